//! A loaded guest of any world, called the same way by `call` and `bench`.

use camel_wasm::{Bean, Decision, EntryKind, Exchange, Language, Limits, Plugin, Policy, PredicateGroup, Runtime, WasmError};

/// Something to call once per exchange: a plugin, a bean method or a policy.
#[derive(Clone)]
pub enum Target {
    /// `process`.
    Plugin(Plugin),
    /// `invoke(method)`.
    Bean(Bean, String),
    /// `evaluate`.
    Policy(Policy),
    /// `matches`, `evaluate` or `first-match` of a language.
    Language(Language, Ask),
}

/// What a language is asked.
#[derive(Clone)]
pub enum Ask {
    /// A predicate's `matches`.
    Matches(String),
    /// An expression's `evaluate`.
    Evaluate(String),
    /// A group's `first-match`.
    FirstMatch(PredicateGroup),
}

/// What one call answered.
// Made once per call and matched at once: boxing the exchange would add an allocation to every measured call.
#[allow(clippy::large_enum_variant)]
pub enum Outcome {
    /// The exchange a plugin or bean returned.
    Exchange(Exchange),
    /// A policy's decision.
    Decision(Decision),
    /// A language's answer, as printed: `true`, `false`, a JSON value, a clause or `none`.
    Verdict(String),
}

impl Target {
    /// Loads `name` as whichever world it fits; a bean needs `method` (default: its first).
    pub async fn load(
        runtime: &Runtime,
        name: &str,
        limits: Limits,
        method: Option<&str>,
        entry: Option<&str>,
        config: Vec<(String, String)>,
    ) -> Result<Self, String> {
        let text = |e: WasmError| e.to_string();
        // The size bound applies before anything is compiled.
        let info = runtime.inspect_with(name, &limits).map_err(text)?;
        match info.worlds.first().copied() {
            Some("plugin") => Ok(Target::Plugin(Plugin::load(runtime, name, limits).map_err(text)?)),
            Some("bean") => {
                let bean = Bean::load(runtime, name, limits, config).await.map_err(text)?;
                let method = match method {
                    Some(m) => m.to_string(),
                    None => bean.methods().first().cloned().ok_or("the bean exports no methods")?,
                };
                Ok(Target::Bean(bean, method))
            }
            Some("authorization-policy") => Ok(Target::Policy(Policy::load(runtime, name, limits, config).map_err(text)?)),
            Some("language") => {
                let language = Language::load(runtime, name, limits, config).await.map_err(text)?;
                let Some(entry) = entry else {
                    let entries: Vec<_> =
                        language.entries().iter().map(|e| format!("{} ({})", e.name, e.kind.as_str())).collect();
                    return Err(format!("'{name}' is a language: pass --entry (one of: {})", entries.join(", ")));
                };
                let ask = match entry.split(',').map(str::trim).collect::<Vec<_>>().as_slice() {
                    [one] => match language.entries().iter().find(|e| e.name == *one).map(|e| e.kind) {
                        Some(EntryKind::Expression) => Ask::Evaluate(one.to_string()),
                        // An unknown entry fails here, listing the entries.
                        _ => language.check(one, EntryKind::Predicate).map(|()| Ask::Matches(one.to_string())).map_err(text)?,
                    },
                    names => Ask::FirstMatch(language.group(names).map_err(text)?),
                };
                Ok(Target::Language(language, ask))
            }
            Some("source") => {
                Err(format!("'{name}' is a source: it takes requests, not calls; run it with `camel-wasm serve {name}`"))
            }
            Some(other) => Err(format!("'{name}' is a {other} component, which `call` and `bench` do not run")),
            None => Err(format!("'{name}' fits no camel:plugin world: {}", info.mismatches.join("; "))),
        }
    }

    /// The world's name.
    pub fn world(&self) -> &'static str {
        match self {
            Target::Plugin(_) => "plugin",
            Target::Bean(..) => "bean",
            Target::Policy(_) => "authorization-policy",
            Target::Language(..) => "language",
        }
    }

    /// The limits it was loaded with.
    pub fn limits(&self) -> &Limits {
        match self {
            Target::Plugin(p) => p.limits(),
            Target::Bean(b, _) => b.limits(),
            Target::Policy(p) => p.limits(),
            Target::Language(l, _) => l.limits(),
        }
    }

    /// One call.
    pub async fn run(&self, exchange: Exchange) -> Result<Outcome, WasmError> {
        match self {
            Target::Plugin(p) => p.process(exchange).await.map(Outcome::Exchange),
            Target::Bean(b, method) => b.invoke(method, exchange).await.map(Outcome::Exchange),
            Target::Policy(p) => p.evaluate(&exchange).await.map(Outcome::Decision),
            Target::Language(l, Ask::Matches(name)) => l.matches(name, exchange).await.map(|m| Outcome::Verdict(m.to_string())),
            Target::Language(l, Ask::Evaluate(name)) => l.evaluate(name, exchange).await.map(|v| Outcome::Verdict(v.to_string())),
            Target::Language(l, Ask::FirstMatch(group)) => l.first_match(group, exchange).await.map(|first| {
                Outcome::Verdict(match first {
                    Some(index) => format!("{index} ({})", group.names()[index]),
                    None => "none".into(),
                })
            }),
        }
    }
}
