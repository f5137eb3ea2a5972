//! The `language` world of `camel:language@1.0.0`: named predicates and expressions for routes.

use crate::bindings::language::{ClauseError, Entry as WireEntry, EntryKind, Guest};
use crate::bindings::types::{WasmError, WasmExchange};
use crate::{Config, Error, Exchange};
use serde::Serialize;
use std::marker::PhantomData;

/// What one entry does with an exchange.
#[derive(Clone, Copy)]
pub enum Rule {
    /// A predicate: true or false.
    Predicate(fn(&Exchange) -> Result<bool, Error>),
    /// An expression: a JSON value, as its text.
    Expression(fn(&Exchange) -> Result<String, Error>),
}

/// One named predicate or expression; build the list with [`entries!`](crate::entries).
#[derive(Clone, Copy)]
pub struct Entry {
    name: &'static str,
    rule: Rule,
}

impl Entry {
    /// An entry called `name` that runs `rule`.
    pub const fn new(name: &'static str, rule: Rule) -> Self {
        Entry { name, rule }
    }

    /// The entry's name, as routes refer to it (`tiers.wasm#is-gold`).
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// What it runs.
    pub fn rule(&self) -> Rule {
        self.rule
    }
}

/// Routing decisions and values as a component. Export it with [`export_language!`](crate::export_language).
///
/// The one [`Language::ENTRIES`] table drives the exported `entries` list and
/// the dispatch of `matches`, `evaluate` and `first-match`, so they cannot drift apart.
///
/// ```no_run
/// # use camel_wasm_guest::prelude::*;
/// struct Orders;
/// impl Orders {
///     fn is_big(ex: &Exchange) -> Result<bool, Error> {
///         Ok(ex.header::<f64>("amount")?.unwrap_or(0.0) > 1000.0)
///     }
///     fn region(ex: &Exchange) -> Result<String, Error> {
///         Ok(ex.header_str("country").unwrap_or("eu").to_lowercase())
///     }
/// }
/// impl Language for Orders {
///     const ENTRIES: &'static [Entry] = entries! {
///         predicate "is-big" => Self::is_big,
///         expression "region" => Self::region,
///     };
/// }
/// export_language!(Orders);
/// ```
pub trait Language {
    /// The predicates and expressions, by name.
    const ENTRIES: &'static [Entry];

    /// Called once per instance with the endpoint's configuration; an error fails the endpoint.
    fn init(config: Config) -> Result<(), String> {
        let _ = config;
        Ok(())
    }
}

/// The JSON text of an expression's value (what [`entries!`](crate::entries) wraps each expression in).
pub fn to_json<T: Serialize>(value: Result<T, Error>) -> Result<String, Error> {
    Ok(serde_json::to_string(&value?)?)
}

fn find<L: Language>(name: &str) -> Result<Rule, Error> {
    L::ENTRIES.iter().find(|e| e.name == name).map(|e| e.rule).ok_or_else(|| Error::processor(format!("unknown entry '{name}'")))
}

fn predicate<L: Language>(name: &str) -> Result<fn(&Exchange) -> Result<bool, Error>, Error> {
    match find::<L>(name)? {
        Rule::Predicate(f) => Ok(f),
        Rule::Expression(_) => Err(Error::processor(format!("'{name}' is an expression, not a predicate"))),
    }
}

/// Adapts a [`Language`] to the generated `language` world bindings.
#[doc(hidden)]
pub struct LanguageExport<T>(PhantomData<T>);

impl<T: Language> Guest for LanguageExport<T> {
    fn entries() -> Vec<WireEntry> {
        T::ENTRIES
            .iter()
            .map(|e| WireEntry {
                name: e.name.to_owned(),
                kind: match e.rule {
                    Rule::Predicate(_) => EntryKind::Predicate,
                    Rule::Expression(_) => EntryKind::Expression,
                },
            })
            .collect()
    }

    fn init(config: Vec<(String, String)>) -> Result<(), String> {
        T::init(config.into())
    }

    fn matches(name: String, exchange: WasmExchange) -> Result<bool, WasmError> {
        let rule = predicate::<T>(&name)?;
        Ok(rule(&Exchange::from(exchange))?)
    }

    fn evaluate(name: String, exchange: WasmExchange) -> Result<String, WasmError> {
        match find::<T>(&name)? {
            Rule::Expression(f) => Ok(f(&Exchange::from(exchange))?),
            Rule::Predicate(_) => Err(Error::processor(format!("'{name}' is a predicate, not an expression")).into()),
        }
    }

    fn first_match(names: Vec<String>, exchange: WasmExchange) -> Result<Option<u32>, ClauseError> {
        let exchange = Exchange::from(exchange);
        for (index, name) in names.iter().enumerate() {
            let fail = |error: Error| ClauseError { index: index as u32, error: error.into() };
            if predicate::<T>(name).map_err(fail)?(&exchange).map_err(fail)? {
                return Ok(Some(index as u32));
            }
        }
        Ok(None)
    }
}

/// Builds a [`Language::ENTRIES`] table from `predicate "name" => fn` and
/// `expression "name" => fn` lines. A predicate is `fn(&Exchange) -> Result<bool, Error>`;
/// an expression is `fn(&Exchange) -> Result<T, Error>` for any `T: Serialize`.
#[macro_export]
macro_rules! entries {
    ($($kind:ident $name:literal => $rule:path),* $(,)?) => {
        &[$($crate::__entry!($kind $name => $rule)),*]
    };
}

/// One line of [`entries!`].
#[doc(hidden)]
#[macro_export]
macro_rules! __entry {
    (predicate $name:literal => $rule:path) => {
        $crate::Entry::new($name, $crate::Rule::Predicate($rule))
    };
    (expression $name:literal => $rule:path) => {
        $crate::Entry::new($name, $crate::Rule::Expression(|exchange| $crate::language::to_json($rule(exchange))))
    };
}

/// Exports a [`Language`] as this component's `language` world: `export_language!(MyRules);`
#[macro_export]
macro_rules! export_language {
    ($language:ty) => {
        $crate::__export_world!(language, LanguageExport, $language);
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Rules;

    impl Rules {
        fn big(ex: &Exchange) -> Result<bool, Error> {
            Ok(ex.header::<i64>("amount")?.unwrap_or(0) > 100)
        }
        fn broken(_: &Exchange) -> Result<bool, Error> {
            Err(Error::processor("broken"))
        }
        fn doubled(ex: &Exchange) -> Result<i64, Error> {
            Ok(ex.header::<i64>("amount")?.unwrap_or(0) * 2)
        }
    }

    impl Language for Rules {
        const ENTRIES: &'static [Entry] = crate::entries! {
            predicate "big" => Self::big,
            predicate "broken" => Rules::broken,
            expression "doubled" => Self::doubled,
        };
    }

    type Export = LanguageExport<Rules>;

    fn amount(n: i64) -> WasmExchange {
        let mut ex = Exchange::new("x");
        ex.set_header("amount", n);
        ex.into()
    }

    #[test]
    fn entries_list_names_and_kinds() {
        let listed: Vec<_> = <Export as Guest>::entries().into_iter().map(|e| (e.name, e.kind == EntryKind::Predicate)).collect();
        assert_eq!(listed, [("big".into(), true), ("broken".into(), true), ("doubled".into(), false)]);
    }

    #[test]
    fn predicates_expressions_and_groups_dispatch_by_name() {
        assert!(<Export as Guest>::matches("big".into(), amount(500)).unwrap());
        assert!(!<Export as Guest>::matches("big".into(), amount(5)).unwrap());
        assert_eq!(<Export as Guest>::evaluate("doubled".into(), amount(21)).unwrap(), "42");
        assert!(<Export as Guest>::matches("doubled".into(), amount(1)).is_err());
        assert!(<Export as Guest>::evaluate("big".into(), amount(1)).is_err());
        assert!(<Export as Guest>::matches("nope".into(), amount(1)).is_err());
        let group = |names: &[&str], n| {
            <Export as Guest>::first_match(names.iter().map(|s| s.to_string()).collect(), amount(n)).map_err(|e| e.index)
        };
        assert_eq!(group(&["big"], 500), Ok(Some(0)));
        assert_eq!(group(&["big"], 5), Ok(None));
        assert_eq!(group(&["big", "broken", "big"], 5), Err(1), "the failing clause's index");
        assert_eq!(group(&["big", "broken"], 500), Ok(Some(0)), "clauses after a match are never evaluated");
    }
}
