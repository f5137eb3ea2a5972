//! The `language` world of `camel:language@1.0.0`: named predicates and expressions.

use std::sync::{Arc, RwLock, Weak};

use serde::Serialize;
use serde_json::Value;
use wasmtime::Store;
use wasmtime::component::{Component, InstancePre};

use crate::bindings::{WasmError as GuestError, WasmExchange};
use crate::error::WasmError;
use crate::exchange::{Exchange, wire};
use crate::limits::Limits;
use crate::pool::{Answer, Call, Pool, Request, World};
use crate::runtime::reload::{BoxFuture, Commit, Reloadable};
use crate::runtime::{Compiled, Runtime};
use crate::store::StoreState;
use crate::stream::Streams;

mod bindings {
    wasmtime::component::bindgen!({
        path: "wit",
        world: "camel:language/language",
        exports: { default: async },
        with: {
            "camel:plugin/types": crate::bindings::types,
            "camel:plugin/host": crate::bindings::host,
        },
    });
}

pub(crate) type Pre = bindings::LanguagePre<StoreState>;

/// The `language` world as the pool sees it.
pub(crate) struct LanguageWorld;

/// What a language call asks: one entry, or a group's first match.
pub(crate) enum Ask {
    /// `matches(name, exchange)`.
    Matches(Arc<str>),
    /// `evaluate(name, exchange)`.
    Evaluate(Arc<str>),
    /// `first-match(names, exchange)`, labelled by the names joined with `|`.
    FirstMatch { label: Arc<str>, names: Arc<[String]> },
}

impl Request for Ask {
    fn label(&self) -> Option<&Arc<str>> {
        match self {
            Ask::Matches(name) | Ask::Evaluate(name) => Some(name),
            Ask::FirstMatch { label, .. } => Some(label),
        }
    }
}

/// What a language guest answered.
pub(crate) enum Verdict {
    /// A predicate's answer.
    Matched(bool),
    /// An expression's value, as the JSON text the guest returned.
    Value(String),
    /// A group's first matching clause, or the clause that failed.
    First(Result<Option<u32>, bindings::ClauseError>),
}

impl Answer for Verdict {
    fn exchange(&mut self) -> Option<&mut WasmExchange> {
        None
    }

    fn failed(&self) -> bool {
        matches!(self, Verdict::First(Err(_)))
    }
}

impl World for LanguageWorld {
    const NAME: &'static str = "language";
    /// A decision never calls endpoints: `camel-call` / `camel-poll` are refused.
    const MAY_CALL: bool = false;
    type Pre = Pre;
    type Bindings = bindings::Language;
    type Request = Ask;
    type Answer = Verdict;

    fn pre(instance_pre: InstancePre<StoreState>) -> wasmtime::Result<Pre> {
        Pre::new(instance_pre)
    }

    fn component(pre: &Pre) -> &Component {
        pre.instance_pre().component()
    }

    async fn instantiate(pre: &Pre, store: &mut Store<StoreState>) -> wasmtime::Result<bindings::Language> {
        pre.instantiate_async(store).await
    }

    async fn init(
        bindings: &bindings::Language,
        store: &mut Store<StoreState>,
        config: &[(String, String)],
    ) -> wasmtime::Result<Result<(), String>> {
        bindings.call_init(store, config).await
    }

    async fn call(
        bindings: &bindings::Language,
        store: &mut Store<StoreState>,
        ask: &Ask,
        exchange: WasmExchange,
    ) -> wasmtime::Result<Result<Verdict, GuestError>> {
        Ok(match ask {
            Ask::Matches(name) => bindings.call_matches(store, name, &exchange).await?.map(Verdict::Matched),
            Ask::Evaluate(name) => bindings.call_evaluate(store, name, &exchange).await?.map(Verdict::Value),
            Ask::FirstMatch { names, .. } => Ok(Verdict::First(bindings.call_first_match(store, names, &exchange).await?)),
        })
    }
}

/// Whether an entry is a predicate (`matches`) or an expression (`evaluate`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum EntryKind {
    /// Answers `matches` with true or false.
    Predicate,
    /// Answers `evaluate` with a JSON value.
    Expression,
}

impl EntryKind {
    /// `predicate` or `expression`.
    pub fn as_str(self) -> &'static str {
        match self {
            EntryKind::Predicate => "predicate",
            EntryKind::Expression => "expression",
        }
    }
}

/// One named predicate or expression of a language component.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Entry {
    /// Its name, as routes refer to it.
    pub name: String,
    /// What it answers.
    pub kind: EntryKind,
}

/// A language's entries, with a shared name for each to label calls with.
struct EntryList {
    entries: Arc<[Entry]>,
    shared: Box<[Arc<str>]>,
}

impl From<Vec<bindings::Entry>> for EntryList {
    fn from(listed: Vec<bindings::Entry>) -> Self {
        let entries: Arc<[Entry]> = listed
            .into_iter()
            .map(|e| Entry {
                name: e.name,
                kind: match e.kind {
                    bindings::EntryKind::Predicate => EntryKind::Predicate,
                    bindings::EntryKind::Expression => EntryKind::Expression,
                },
            })
            .collect();
        let shared = entries.iter().map(|e| Arc::from(e.name.as_str())).collect();
        Self { entries, shared }
    }
}

/// The entry list, re-read from each new version a hot reload brings.
struct Entries {
    pool: Arc<Pool<LanguageWorld>>,
    list: RwLock<EntryList>,
}

impl Reloadable for Entries {
    fn prepare<'a>(&'a self, runtime: &'a Runtime, compiled: &'a Arc<Compiled>) -> BoxFuture<'a, Result<Commit<'a>, WasmError>> {
        Box::pin(async move {
            let pre = crate::pool::pre::<LanguageWorld>(runtime, compiled)?;
            let entries = initialized_entries(&self.pool, &pre).await?;
            Ok(Box::new(move || {
                self.pool.swap(pre);
                *self.list.write().unwrap() = EntryList::from(entries);
            }) as Commit<'a>)
        })
    }
}

/// The entries of version `pre`, asked after its `init` ran with the endpoint's
/// config: a config `init` refuses fails the load (or the reload), not the first exchange.
async fn initialized_entries(pool: &Arc<Pool<LanguageWorld>>, pre: &Pre) -> Result<Vec<bindings::Entry>, WasmError> {
    let config = pool.config().to_vec();
    let listed = pool
        .with_fresh_instance_of(pre, async |bindings, store| match bindings.call_init(&mut *store, &config).await? {
            Ok(()) => Ok(Ok(bindings.call_entries(store).await?)),
            Err(message) => Ok(Err(message)),
        })
        .await?;
    listed.map_err(|message| WasmError::InitFailed { plugin: pool.plugin().to_string(), message })
}

/// Predicates of one language evaluated together in one guest call: a `choice`'s `when` clauses.
#[derive(Debug, Clone)]
pub struct PredicateGroup {
    names: Arc<[String]>,
    label: Arc<str>,
}

impl PredicateGroup {
    /// The clauses' entries, in order.
    pub fn names(&self) -> &[String] {
        &self.names
    }
}

/// A loaded `language`-world component: named predicates and expressions.
#[derive(Clone)]
pub struct Language {
    pool: Arc<Pool<LanguageWorld>>,
    entries: Arc<Entries>,
}

impl std::fmt::Debug for Language {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Language").field("name", &self.name()).field("entries", &self.entries()).finish_non_exhaustive()
    }
}

impl Language {
    /// Loads the language at `path` as a new endpoint whose instances get `config` in `init`.
    ///
    /// Loading asks the guest for its `entries()` once (and a hot reload again).
    pub async fn load(runtime: &Runtime, path: &str, limits: Limits, config: Vec<(String, String)>) -> Result<Self, WasmError> {
        let pool = Pool::<LanguageWorld>::open_async(runtime, path, limits, config).await?;
        let listed = initialized_entries(&pool, &pool.current_pre()).await?;
        let entries = Arc::new(Entries { pool: pool.clone(), list: RwLock::new(EntryList::from(listed)) });
        runtime.track_reload_instead(&pool, Arc::downgrade(&entries) as Weak<dyn Reloadable>);
        Ok(Self { pool, entries })
    }

    /// Loads the endpoint a `wasm:path?knobs` URI names.
    pub async fn from_uri(runtime: &Runtime, uri: &str, config: Vec<(String, String)>) -> Result<Self, WasmError> {
        let uri = Runtime::parse_uri(uri)?;
        Self::load(runtime, &uri.path, uri.limits, config).await
    }

    /// The plugin's name (its path).
    pub fn name(&self) -> &str {
        self.pool.plugin()
    }

    /// This endpoint's limits.
    pub fn limits(&self) -> &Limits {
        self.pool.limits()
    }

    /// This endpoint's `host-store` state.
    pub fn state(&self) -> &crate::SharedState {
        self.pool.state()
    }

    /// This endpoint's health: unhealthy after `unhealthy-after` failed calls in a row.
    pub fn health(&self) -> crate::HealthStatus {
        self.pool.health()
    }

    /// The entries the component answers to (those of the version a hot reload last brought).
    pub fn entries(&self) -> Arc<[Entry]> {
        self.entries.list.read().unwrap().entries.clone()
    }

    /// Checks that `name` is an entry of `kind`: what a route checks when it is added.
    pub fn check(&self, name: &str, kind: EntryKind) -> Result<(), WasmError> {
        self.find(name, kind).map(drop)
    }

    /// The shared name of entry `name` of `kind`, or the typed error listing the entries.
    fn find(&self, name: &str, kind: EntryKind) -> Result<Arc<str>, WasmError> {
        let list = self.entries.list.read().unwrap();
        match list.entries.iter().position(|e| e.name == name && e.kind == kind) {
            Some(at) => Ok(list.shared[at].clone()),
            None => Err(WasmError::UnknownEntry {
                plugin: self.name().to_string(),
                entry: name.to_string(),
                kind: kind.as_str(),
                available: list.entries.iter().map(|e| format!("{} ({})", e.name, e.kind.as_str())).collect(),
            }),
        }
    }

    /// Evaluates the predicate `name` on `exchange`; an unknown one fails without calling the guest.
    ///
    /// The guest reads the exchange and cannot change it; a stream body reaches it empty, unread.
    pub async fn matches(&self, name: &str, exchange: Exchange) -> Result<bool, WasmError> {
        let ask = Ask::Matches(self.find(name, EntryKind::Predicate)?);
        match self.ask(ask, exchange).await? {
            Verdict::Matched(matched) => Ok(matched),
            _ => Err(self.invalid("matches answered with something else")),
        }
    }

    /// Evaluates the expression `name` on `exchange`: the JSON value the guest returned.
    ///
    /// A return that is not JSON is [`WasmError::InvalidOutput`].
    pub async fn evaluate(&self, name: &str, exchange: Exchange) -> Result<Value, WasmError> {
        let ask = Ask::Evaluate(self.find(name, EntryKind::Expression)?);
        match self.ask(ask, exchange).await? {
            Verdict::Value(text) => serde_json::from_str(&text)
                .map_err(|e| self.invalid(&format!("expression '{name}' returned text that is not JSON ({e})"))),
            _ => Err(self.invalid("evaluate answered with something else")),
        }
    }

    /// A group of the predicates `names`, in order, checked now: [`first_match`](Self::first_match) evaluates it in one call.
    pub fn group(&self, names: &[&str]) -> Result<PredicateGroup, WasmError> {
        for name in names {
            self.check(name, EntryKind::Predicate)?;
        }
        Ok(PredicateGroup { names: names.iter().map(|n| n.to_string()).collect(), label: names.join("|").into() })
    }

    /// The index of the first predicate of `group` that matches `exchange`, none if none does, in one guest call.
    ///
    /// A clause that fails is [`WasmError::Clause`], naming its index and entry.
    pub async fn first_match(&self, group: &PredicateGroup, exchange: Exchange) -> Result<Option<usize>, WasmError> {
        let ask = Ask::FirstMatch { label: group.label.clone(), names: group.names.clone() };
        let Verdict::First(answer) = self.ask(ask, exchange).await? else {
            return Err(self.invalid("first-match answered with something else"));
        };
        let clause =
            |index: u32| {
                let index = index as usize;
                group.names.get(index).map(|entry| (index, entry)).ok_or_else(|| {
                    self.invalid(&format!("first-match returned clause {index} of a group of {}", group.names.len()))
                })
            };
        match answer {
            Ok(None) => Ok(None),
            Ok(Some(index)) => clause(index).map(|(index, _)| Some(index)),
            Err(failed) => {
                let (index, entry) = clause(failed.index)?;
                Err(WasmError::Clause {
                    plugin: self.name().to_string(),
                    index,
                    entry: entry.clone(),
                    error: failed.error.into(),
                })
            }
        }
    }

    async fn ask(&self, ask: Ask, exchange: Exchange) -> Result<Verdict, WasmError> {
        let (exchange, properties) = wire::to_wire_read_only(exchange);
        let call = Call { request: ask, exchange, properties, streams: Streams::default(), permit: None };
        let out = self.pool.call(call).await?;
        out.output.map_err(|e| WasmError::from_guest(self.name(), e))
    }

    fn invalid(&self, reason: &str) -> WasmError {
        WasmError::InvalidOutput { plugin: self.name().to_string(), reason: reason.to_string() }
    }
}
