//! The `wasm` language: predicates and expressions of a `language`-world guest in rust-camel routes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use camel_api::splitter::AggregationStrategy;
use camel_api::{Exchange as CamelExchange, ExpressionErrorClass, LanguageExpressionDef, Value, ValueSourceDef};
use camel_builder::StepAccumulator;
use camel_core::route::{BuilderStep, DeclarativeWhenStep};
use camel_language_api::{Expression, IndexedPredicateError, LanguageError, Predicate, PredicateGroup};

use super::mapping::ExchangeMapping;
use super::observe::Collector;
use crate::{EndpointUri, EntryKind, Language, Runtime, WasmError};

/// The name routes use: `language: wasm`.
pub const LANGUAGE_NAME: &str = "wasm";

/// The prefix of a script parameter handed to the guest's `init`: `config.big-from=500` gives it `big-from`.
const CONFIG_PREFIX: &str = "config.";

/// The `wasm` language for a CamelContext: `filter: { language: wasm, source: "tiers.wasm#is-gold" }`.
///
/// A script is `PATH#ENTRY`, optionally with the usual knobs and the guest's
/// `init` configuration as a query: `tiers.wasm#is-gold?timeout=1&config.big-from=500`.
/// Scripts with the same path and query share one endpoint (its instances,
/// limits, metrics and hot reload), loaded the first time a route names it; an
/// unknown entry, or a predicate used as an expression, fails when the route is
/// added. A `choice` whose `when` clauses all name one endpoint is one guest call.
#[derive(Clone)]
pub struct WasmLanguage {
    runtime: Runtime,
    defaults: crate::Limits,
    loaded: Arc<Mutex<HashMap<String, Language>>>,
    collector: Option<Collector>,
}

impl std::fmt::Debug for WasmLanguage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WasmLanguage").field("endpoints", &self.loaded.lock().unwrap().len()).finish_non_exhaustive()
    }
}

/// A parsed script: which endpoint, and which of its entries.
struct Script {
    /// The endpoint: path and query as given, without the entry.
    key: String,
    uri: EndpointUri,
    config: Vec<(String, String)>,
    entry: String,
}

impl Script {
    fn parse(script: &str, defaults: &crate::Limits) -> Result<Self, String> {
        let script = script.trim();
        let script = script.strip_prefix("wasm:").unwrap_or(script);
        let (head, query) = match script.split_once('?') {
            Some((head, query)) => (head, query),
            None => (script, ""),
        };
        // The entry may come before the query (`f.wasm#e?k=v`) or after it (`f.wasm?k=v#e`).
        let (path, entry, query) = match (head.split_once('#'), query.split_once('#')) {
            (Some((path, entry)), _) => (path, entry, query),
            (None, Some((query, entry))) => (head, entry, query),
            (None, None) => return Err("expected PATH#ENTRY, e.g. tiers.wasm#is-gold".into()),
        };
        if path.is_empty() || entry.is_empty() {
            return Err("expected PATH#ENTRY, e.g. tiers.wasm#is-gold".into());
        }
        let mut knobs = Vec::new();
        let mut config = Vec::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            match pair.strip_prefix(CONFIG_PREFIX) {
                Some(kv) => {
                    let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
                    config.push((k.to_string(), v.to_string()));
                }
                None => knobs.push(pair),
            }
        }
        let uri =
            EndpointUri::parse_over(&format!("wasm:{path}?{}", knobs.join("&")), defaults.clone()).map_err(|e| e.to_string())?;
        let key = if query.is_empty() { path.to_string() } else { format!("{path}?{query}") };
        Ok(Self { key, uri, config, entry: entry.to_string() })
    }
}

impl WasmLanguage {
    /// The `wasm` language over `runtime`'s base directory, compile cache and limits.
    pub fn new(runtime: Runtime) -> Self {
        Self { runtime, defaults: crate::Limits::default(), loaded: Arc::default(), collector: None }
    }

    /// Limits for every endpoint, under the knobs a script's query sets.
    pub fn with_default_limits(mut self, limits: crate::Limits) -> Self {
        self.defaults = limits;
        self
    }

    /// Registers the language as `wasm` in `context`.
    pub fn register(context: &mut camel_core::CamelContext, runtime: Runtime) -> Result<(), camel_core::LanguageRegistryError> {
        context.register_language(LANGUAGE_NAME, Box::new(Self::new(runtime)))
    }

    /// Reports each evaluation to `collector` (e.g. `context.metrics()`): its duration and errors.
    pub fn with_collector(mut self, collector: Arc<dyn camel_api::MetricsCollector>) -> Self {
        self.collector = Some(Collector(collector));
        self
    }

    /// Uses an already loaded `language` for the scripts that name `path` with no query.
    pub fn preload(&self, path: &str, language: Language) {
        self.loaded.lock().unwrap().insert(path.to_string(), language);
    }

    /// The endpoints loaded so far, by path and query.
    pub fn endpoints(&self) -> Vec<(String, Language)> {
        self.loaded.lock().unwrap().iter().map(|(k, l)| (k.clone(), l.clone())).collect()
    }

    /// The endpoint `script` names, loaded once, and its entry checked to be of `kind`.
    fn resolve(&self, script: &str, kind: EntryKind) -> Result<(Language, String), LanguageError> {
        let parsed = self.parse(script)?;
        let language = self.resolve_parsed(script, &parsed, kind)?;
        Ok((language, parsed.entry))
    }

    fn parse(&self, script: &str) -> Result<Script, LanguageError> {
        Script::parse(script, &self.defaults).map_err(|reason| LanguageError::ParseError { expr: script.to_string(), reason })
    }

    /// `parsed`'s endpoint (of `script`), its entry checked to be of `kind`.
    fn resolve_parsed(&self, script: &str, parsed: &Script, kind: EntryKind) -> Result<Language, LanguageError> {
        let parse_error = |e: WasmError| LanguageError::ParseError { expr: script.to_string(), reason: e.to_string() };
        let language = self.endpoint(parsed).map_err(parse_error)?;
        language.check(&parsed.entry, kind).map_err(parse_error)?;
        Ok(language)
    }

    fn endpoint(&self, script: &Script) -> Result<Language, WasmError> {
        if let Some(language) = self.loaded.lock().unwrap().get(&script.key) {
            return Ok(language.clone());
        }
        let language = load_blocking(&self.runtime, script)?;
        // Two routes may have loaded it at once: the first one in is kept.
        Ok(self.loaded.lock().unwrap().entry(script.key.clone()).or_insert(language).clone())
    }

    fn bound(&self, language: Language, entry: String) -> Bound {
        Bound { mapping: ExchangeMapping::for_limits(language.limits()), language, entry, collector: self.collector.clone() }
    }
}

/// Loads a language endpoint from a route's (synchronous) compile step: on a
/// thread of its own with its own small tokio runtime, so it works under any caller.
fn load_blocking(runtime: &Runtime, script: &Script) -> Result<Language, WasmError> {
    let failed = |message: String| WasmError::Runtime { plugin: script.uri.path.clone(), message };
    std::thread::scope(|scope| {
        let loading = scope.spawn(|| {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| failed(e.to_string()))?;
            rt.block_on(Language::load(runtime, &script.uri.path, script.uri.limits.clone(), script.config.clone()))
        });
        loading.join().unwrap_or_else(|_| Err(failed("loading panicked".into())))
    })
}

impl camel_language_api::Language for WasmLanguage {
    fn name(&self) -> &'static str {
        LANGUAGE_NAME
    }

    fn create_expression(&self, script: &str) -> Result<Box<dyn Expression>, LanguageError> {
        let (language, entry) = self.resolve(script, EntryKind::Expression)?;
        Ok(Box::new(WasmExpression(self.bound(language, entry))))
    }

    fn create_predicate(&self, script: &str) -> Result<Box<dyn Predicate>, LanguageError> {
        let (language, entry) = self.resolve(script, EntryKind::Predicate)?;
        Ok(Box::new(WasmPredicate(self.bound(language, entry))))
    }

    /// One guest call for the whole group when every clause names the same
    /// endpoint; otherwise `None`, and rust-camel evaluates the clauses one by one.
    fn create_predicate_group(&self, scripts: &[&str]) -> Result<Option<Box<dyn PredicateGroup>>, LanguageError> {
        let parsed: Vec<Script> = scripts.iter().map(|s| self.parse(s)).collect::<Result<_, _>>()?;
        let Some(first) = parsed.first() else { return Ok(None) };
        if parsed.iter().any(|p| p.key != first.key) {
            return Ok(None);
        }
        let mut language = None;
        for (script, parsed) in scripts.iter().zip(&parsed) {
            language = Some(self.resolve_parsed(script, parsed, EntryKind::Predicate)?);
        }
        let Some(language) = language else { return Ok(None) };
        let names: Vec<&str> = parsed.iter().map(|p| p.entry.as_str()).collect();
        let group =
            language.group(&names).map_err(|e| LanguageError::ParseError { expr: scripts.join(", "), reason: e.to_string() })?;
        Ok(Some(Box::new(WasmPredicateGroup { bound: self.bound(language, names.join("|")), group })))
    }
}

/// A language endpoint and one entry of it, as a route step holds it.
struct Bound {
    language: Language,
    entry: String,
    mapping: ExchangeMapping,
    collector: Option<Collector>,
}

impl Bound {
    fn exchange(&self, exchange: &CamelExchange) -> Result<crate::Exchange, LanguageError> {
        self.mapping.to_wasm_read_only(exchange).map_err(|e| LanguageError::EvalFailure {
            class: ExpressionErrorClass::Conversion,
            position: None,
            detail: Some(format!("wasm entry '{}': {e}", self.entry)),
        })
    }

    /// One evaluation: `exchange` copied for the guest, `call` timed and reported, its error typed.
    async fn run<T>(
        &self,
        exchange: &CamelExchange,
        call: impl AsyncFnOnce(crate::Exchange) -> Result<T, WasmError>,
    ) -> Result<T, LanguageError> {
        let sent = self.exchange(exchange)?;
        let result = self.timed(call(sent)).await;
        result.map_err(|e| self.error(&e))
    }

    /// `call`'s result, its duration and error reported to the collector.
    async fn timed<T>(&self, call: impl Future<Output = Result<T, WasmError>>) -> Result<T, WasmError> {
        let started = std::time::Instant::now();
        let result = call.await;
        if let Some(collector) = &self.collector {
            collector.report(self.language.name(), None, started.elapsed(), result.as_ref().err());
        }
        result
    }

    /// The typed error as the `LanguageError` a route sees: its class, and the plugin and entry named.
    fn error(&self, err: &WasmError) -> LanguageError {
        let class = match err {
            WasmError::Timeout { .. } => ExpressionErrorClass::Timeout,
            WasmError::OutOfMemory { .. }
            | WasmError::LimitExceeded { .. }
            | WasmError::Busy { .. }
            | WasmError::NoInstanceSlot { .. } => ExpressionErrorClass::Limit,
            WasmError::InvalidOutput { .. }
            | WasmError::Guest { error: crate::GuestError::TypeConversion(_), .. }
            | WasmError::Clause { error: crate::GuestError::TypeConversion(_), .. } => ExpressionErrorClass::Conversion,
            WasmError::UnknownEntry { .. } => ExpressionErrorClass::FunctionNotFound,
            _ => ExpressionErrorClass::Runtime,
        };
        let detail = format!("wasm entry '{}': {}", self.entry, crate::escape_control(&err.to_string()));
        LanguageError::EvalFailure { class, position: None, detail: Some(detail) }
    }
}

/// A `wasm` predicate: one entry's `matches`.
struct WasmPredicate(Bound);

#[async_trait]
impl Predicate for WasmPredicate {
    async fn matches(&self, exchange: &CamelExchange) -> Result<bool, LanguageError> {
        let bound = &self.0;
        bound.run(exchange, async |sent| bound.language.matches(&bound.entry, sent).await).await
    }
}

/// A `wasm` expression: one entry's `evaluate`, a JSON value.
struct WasmExpression(Bound);

#[async_trait]
impl Expression for WasmExpression {
    async fn evaluate(&self, exchange: &CamelExchange) -> Result<Value, LanguageError> {
        let bound = &self.0;
        bound.run(exchange, async |sent| bound.language.evaluate(&bound.entry, sent).await).await
    }
}

/// A `choice`'s `wasm` clauses on one endpoint: one `first-match` call.
struct WasmPredicateGroup {
    bound: Bound,
    group: crate::PredicateGroup,
}

#[async_trait]
impl PredicateGroup for WasmPredicateGroup {
    async fn first_match(&self, exchange: &CamelExchange) -> Result<Option<usize>, IndexedPredicateError> {
        let bound = &self.bound;
        let sent = bound.exchange(exchange).map_err(|error| IndexedPredicateError { index: 0, error })?;
        bound.timed(bound.language.first_match(&self.group, sent)).await.map_err(|e| {
            // A clause's own error names its index; a trap or a timeout stops the whole call, reported at clause 0.
            let index = match &e {
                WasmError::Clause { index, .. } => *index,
                _ => 0,
            };
            IndexedPredicateError { index, error: bound.error(&e) }
        })
    }
}

/// A `wasm` predicate or expression for a declarative step: `wasm("tiers.wasm#is-gold")`.
pub fn wasm(script: impl Into<String>) -> LanguageExpressionDef {
    LanguageExpressionDef { language: LANGUAGE_NAME.to_string(), source: script.into() }
}

/// A list of route steps to nest under a `wasm` filter, `when` or split: `Steps::new().to("mock:gold")`.
#[derive(Default)]
pub struct Steps(Vec<BuilderStep>);

impl Steps {
    /// No steps yet.
    pub fn new() -> Self {
        Self::default()
    }
}

impl StepAccumulator for Steps {
    fn steps_mut(&mut self) -> &mut Vec<BuilderStep> {
        &mut self.0
    }
}

/// The Rust DSL's `wasm` steps, on any camel-builder route (and on [`Steps`]):
/// the same declarative steps the YAML DSL's `language: wasm` builds.
pub trait WasmSteps: StepAccumulator {
    /// `filter`: the nested `steps` run when the predicate `script` matches.
    fn wasm_filter(mut self, script: &str, steps: Steps) -> Self {
        self.steps_mut().push(BuilderStep::DeclarativeFilter { predicate: wasm(script), steps: steps.0 });
        self
    }

    /// `choice`: the steps of the first `when` whose predicate matches, else `otherwise`'s.
    /// When every clause names one endpoint, the whole choice is one guest call.
    fn wasm_choice(mut self, whens: Vec<(&str, Steps)>, otherwise: Option<Steps>) -> Self {
        let whens =
            whens.into_iter().map(|(script, steps)| DeclarativeWhenStep { predicate: wasm(script), steps: steps.0 }).collect();
        self.steps_mut().push(BuilderStep::DeclarativeChoice { whens, otherwise: otherwise.map(|s| s.0) });
        self
    }

    /// `set-header`: header `key` set to the expression's value.
    fn wasm_set_header(mut self, key: &str, script: &str) -> Self {
        let value = ValueSourceDef::Expression(wasm(script));
        self.steps_mut().push(BuilderStep::DeclarativeSetHeader { key: key.to_string(), value });
        self
    }

    /// `set-body`: the body set to the expression's value.
    fn wasm_set_body(mut self, script: &str) -> Self {
        self.steps_mut().push(BuilderStep::DeclarativeSetBody { value: ValueSourceDef::Expression(wasm(script)) });
        self
    }

    /// `split`: the nested `steps` run once per element of the JSON array the
    /// expression returns; `aggregation` makes the exchange that goes on
    /// (rust-camel's default is `LastWins`; `Original` keeps the one split).
    fn wasm_split(mut self, script: &str, aggregation: AggregationStrategy, steps: Steps) -> Self {
        self.steps_mut().push(BuilderStep::DeclarativeSplit {
            expression: wasm(script),
            aggregation,
            parallel: false,
            parallel_limit: None,
            trace_item_threshold: None,
            stop_on_exception: true,
            steps: steps.0,
        });
        self
    }
}

impl<T: StepAccumulator> WasmSteps for T {}

#[cfg(test)]
mod tests {
    use super::Script;
    use crate::Limits;

    #[test]
    fn scripts_name_a_path_an_entry_knobs_and_config() {
        let s = Script::parse("tiers.wasm#is-gold?timeout=1&config.big-from=500", &Limits::default()).unwrap();
        assert_eq!((s.uri.path.as_str(), s.entry.as_str()), ("tiers.wasm", "is-gold"));
        assert_eq!(s.uri.limits.timeout, std::time::Duration::from_secs(1));
        assert_eq!(s.config, [("big-from".to_string(), "500".to_string())]);
        assert_eq!(s.key, "tiers.wasm?timeout=1&config.big-from=500");
        let after = Script::parse("wasm:tiers.wasm?timeout=1#is-gold", &Limits::default()).unwrap();
        assert_eq!((after.key.as_str(), after.entry.as_str()), ("tiers.wasm?timeout=1", "is-gold"));
        assert_eq!(Script::parse(" tiers.wasm#tier ", &Limits::default()).unwrap().key, "tiers.wasm");
        for bad in ["tiers.wasm", "#is-gold", "tiers.wasm#", "tiers.wasm#x?nonsense=1"] {
            assert!(Script::parse(bad, &Limits::default()).is_err(), "{bad} should not parse");
        }
    }
}
