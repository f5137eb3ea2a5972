//! Warm instances of one endpoint: checkout, call under limits, recycle.
//!
//! Each endpoint keeps a bounded pool of instances of its component. A call
//! takes a permit (at most `max-concurrent` calls run; more callers wait), takes
//! an idle instance or makes one (running the guest's `init` first), calls it
//! under the deadline, and gives it back. An instance that trapped, timed out,
//! ran out of memory or panicked is thrown away, off the caller's path.
//! With `isolation=per-call` every instance serves one call; the idle queue
//! then holds spares (made and `init`ed, never called) that a low-priority
//! background thread refills (see [`crate::store::background`]).

mod call;
mod idle;
mod instantiate;

use crossbeam_utils::CachePadded;
use std::future::Future;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use wasmtime::Store;
use wasmtime::component::{Component, InstancePre};

use crate::bindings::{WasmError as GuestError, WasmExchange};
use crate::error::{LoadError, WasmError};
use crate::exchange::wire::SentProperties;
use crate::health::{Health, HealthStatus};
use crate::host::CallAllowlist;
use crate::limits::Limits;
use crate::metrics::EndpointMetrics;
use crate::runtime::reload::{BoxFuture, Commit, Reloadable};
use crate::runtime::{Compiled, IdleInstances, Runtime};
use crate::state::SharedState;
use crate::store::StoreState;
use crate::store::slots::EndpointShare;
use crate::stream::{Returned, Streams};
use idle::{IdleQueue, discard};

/// What a world contributes to the pool: how to instantiate, init and call it.
pub(crate) trait World: Send + Sync + 'static {
    /// The world's name in the WIT.
    const NAME: &'static str;
    /// Whether guests of this world may use `camel-call` / `camel-poll` at all.
    const MAY_CALL: bool = true;
    /// The pre-instantiated component (`*Pre`).
    type Pre: Clone + Send + Sync + 'static;
    /// An instance's typed exports.
    type Bindings: Send + Sync + 'static;
    /// What a call names besides its exchange (a bean's method, a language's entries).
    type Request: Request;
    /// What the guest answers a call with, when it does not fail.
    type Answer: Answer;

    /// Looks up the world's exports once, for every later instantiation.
    fn pre(instance_pre: InstancePre<StoreState>) -> wasmtime::Result<Self::Pre>;

    /// The component a `Pre` instantiates.
    fn component(pre: &Self::Pre) -> &Component;

    /// Instantiates the component in `store`.
    fn instantiate(
        pre: &Self::Pre,
        store: &mut Store<StoreState>,
    ) -> impl Future<Output = wasmtime::Result<Self::Bindings>> + Send;

    /// Runs the guest's `init` with `config`.
    fn init(
        bindings: &Self::Bindings,
        store: &mut Store<StoreState>,
        config: &[(String, String)],
    ) -> impl Future<Output = wasmtime::Result<Result<(), String>>> + Send;

    /// Makes one call with `exchange` and `request`.
    fn call(
        bindings: &Self::Bindings,
        store: &mut Store<StoreState>,
        request: &Self::Request,
        exchange: WasmExchange,
    ) -> impl Future<Output = wasmtime::Result<Result<Self::Answer, GuestError>>> + Send;
}

/// What a call asks besides its exchange.
pub(crate) trait Request: Send + 'static {
    /// Its name in the call's span and the `method` label of its metrics, if any.
    fn label(&self) -> Option<&Arc<str>>;
}

/// Worlds with one export ask nothing more.
impl Request for () {
    fn label(&self) -> Option<&Arc<str>> {
        None
    }
}

/// A bean's method: shared, so naming it in the span and the metrics copies nothing.
impl Request for Arc<str> {
    fn label(&self) -> Option<&Arc<str>> {
        Some(self)
    }
}

/// A guest's answer to a call.
pub(crate) trait Answer: Send + 'static {
    /// The exchange it returned, whose stream body (if any) the pool drains.
    fn exchange(&mut self) -> Option<&mut WasmExchange>;

    /// Whether it reports a failure of the guest's own (a language group's clause error).
    fn failed(&self) -> bool {
        false
    }
}

impl Answer for WasmExchange {
    fn exchange(&mut self) -> Option<&mut WasmExchange> {
        Some(self)
    }
}

/// A policy's answer: a denial's reason, or none.
impl Answer for Option<String> {
    fn exchange(&mut self) -> Option<&mut WasmExchange> {
        None
    }
}

/// One call through the pool: the exchange in wire form and everything that goes with it.
pub(crate) struct Call<R> {
    /// What the call asks besides the exchange (the world's [`Request`]).
    pub(crate) request: R,
    /// The exchange, as the guest receives it.
    pub(crate) exchange: WasmExchange,
    /// Its properties as sent, for `get-property`.
    pub(crate) properties: SentProperties,
    /// Its stream bodies, which the guest reads through the exchange's `stream` bodies.
    pub(crate) streams: Streams,
    /// A call slot the caller already holds (a tower service's `poll_ready`); else the call waits for one.
    pub(crate) permit: Option<OwnedSemaphorePermit>,
}

/// One warm instance.
struct Instance<W: World> {
    store: Store<StoreState>,
    bindings: W::Bindings,
    calls: u64,
    /// When it was last given back to the pool.
    idle_since: Instant,
    /// Entries in the store's concurrent-state table when nothing runs; more
    /// after a call means guest tasks outlived it.
    settled_tasks: usize,
    /// Host resources it held after `init`; far more after a call means it leaks them.
    settled_handles: usize,
    /// The version of the component it runs ([`Pool::swap`] bumps it); a stale one is never reused.
    generation: u64,
    /// The thread that gave it back last ([`idle::thread_tag`]; 0 when none has).
    thread: u32,
    /// Counts it in `camel_wasm_instances_live` while it exists.
    _live: LiveInstance,
}

/// Holds one unit of the endpoint's live-instances gauge.
struct LiveInstance(::metrics::Gauge);

impl Drop for LiveInstance {
    fn drop(&mut self) {
        self.0.decrement(1.0);
    }
}

/// The version of the component an endpoint instantiates now.
struct Current<P> {
    pre: P,
    /// Bumped by each [`Pool::swap`].
    generation: u64,
}

/// The instances of one endpoint and what they share.
pub(crate) struct Pool<W: World> {
    plugin: Arc<str>,
    /// Keeps the engine, its epoch ticker and the endpoints alive as long as the pool.
    runtime: Runtime,
    /// The version new instances are made of; swapped by a hot reload.
    pre: Mutex<Current<W::Pre>>,
    /// `pre`'s generation, readable without its lock on every call.
    generation: AtomicU64,
    limits: Limits,
    allowlist: Arc<CallAllowlist>,
    config: Vec<(String, String)>,
    state: SharedState,
    /// Idle instances, oldest first: calls take the newest, eviction the oldest.
    /// With `isolation=per-call`, these are spares: made and `init`ed, never called.
    /// On its own cache line: every call locks it twice, and it must not share one with what calls only read.
    idle: CachePadded<Mutex<IdleQueue<W>>>,
    /// Whether a refill of the spares is queued or running (per-call isolation).
    refilling: std::sync::atomic::AtomicBool,
    /// Whether the background thread is making a spare of this endpoint now.
    making_spare: std::sync::atomic::AtomicBool,
    /// Spares kept so far (a caller waiting for one watches it change).
    spares_kept: AtomicU64,
    /// Until when no spares are made, after one ran past its deadline.
    spares_paused_until: Mutex<Option<Instant>>,
    permits: Arc<Semaphore>,
    /// Returned streams still draining (each holds its instance and call slot).
    draining: AtomicUsize,
    metrics: EndpointMetrics,
    health: Health,
    /// The endpoint's share of the pooling allocator (none without pooling).
    share: Option<Arc<EndpointShare>>,
}

/// What one call gave back.
pub(crate) struct CallOutput<A> {
    /// The guest's answer, or its own error.
    pub(crate) output: Result<A, GuestError>,
    /// The properties the guest set with `set-property`.
    pub(crate) set: Vec<(String, String)>,
    /// The stream body the guest returned, now draining, and where it goes.
    pub(crate) returned: Option<Returned>,
}

/// The pre-instantiated form of `compiled` for world `W` (made once per file).
pub(crate) fn pre<W: World>(runtime: &Runtime, compiled: &Compiled) -> Result<W::Pre, LoadError> {
    runtime.pre_in(compiled, W::NAME, W::pre)
}

impl<W: World> Pool<W> {
    /// A pool for an endpoint of world `W` on `path`, known to the runtime for eviction and reload.
    pub(crate) fn open(
        runtime: &Runtime,
        path: &str,
        limits: Limits,
        config: Vec<(String, String)>,
    ) -> Result<Arc<Self>, WasmError> {
        let compiled = runtime.compile(path, &limits)?;
        let pre = pre::<W>(runtime, &compiled)?;
        let max_wasm_size = limits.max_wasm_size;
        let share = runtime.reserve_share(&compiled.name, &compiled.component, &limits)?;
        let pool = Arc::new(Self::new(compiled.name.clone(), runtime.clone(), pre, limits, config, share));
        runtime.track_endpoint(&compiled, max_wasm_size, Arc::downgrade(&pool) as _, Arc::downgrade(&pool) as _);
        Ok(pool)
    }

    /// Like [`open`](Self::open), with reading and compiling on a blocking thread.
    pub(crate) async fn open_async(
        runtime: &Runtime,
        path: &str,
        limits: Limits,
        config: Vec<(String, String)>,
    ) -> Result<Arc<Self>, WasmError> {
        let (runtime, path) = (runtime.clone(), path.to_string());
        match tokio::task::spawn_blocking(move || Self::open(&runtime, &path, limits, config)).await {
            Ok(result) => result,
            Err(join) => Err(WasmError::Runtime { plugin: "<runtime>".into(), message: format!("loading failed: {join}") }),
        }
    }

    /// A pool for `plugin` with no instance yet.
    pub(crate) fn new(
        plugin: Arc<str>,
        runtime: Runtime,
        pre: W::Pre,
        limits: Limits,
        config: Vec<(String, String)>,
        share: Option<Arc<EndpointShare>>,
    ) -> Self {
        let state = runtime.state_for(&plugin, &limits);
        let permits = Arc::new(Semaphore::new(limits.max_concurrent.clamp(1, Limits::MAX_CONCURRENT)));
        let allowlist = Arc::new(limits.allow_call.clone());
        let pre = Mutex::new(Current { pre, generation: 0 });
        let metrics = EndpointMetrics::new(&plugin, W::NAME);
        let health = Health::new(limits.unhealthy_after);
        let draining = AtomicUsize::new(0);
        let refilling = Default::default();
        Self {
            plugin,
            runtime,
            pre,
            limits,
            allowlist,
            config,
            state,
            idle: CachePadded::new(Mutex::new(IdleQueue::new(metrics.idle.clone()))),
            refilling,
            making_spare: Default::default(),
            spares_kept: AtomicU64::new(0),
            permits,
            draining,
            metrics,
            health,
            generation: AtomicU64::new(0),
            share,
            spares_paused_until: Mutex::default(),
        }
    }

    /// The `init` config every instance gets.
    pub(crate) fn config(&self) -> &[(String, String)] {
        &self.config
    }

    /// The plugin's name.
    pub(crate) fn plugin(&self) -> &str {
        &self.plugin
    }

    /// The endpoint's limits.
    pub(crate) fn limits(&self) -> &Limits {
        &self.limits
    }

    /// The endpoint's `host-store` state.
    pub(crate) fn state(&self) -> &SharedState {
        &self.state
    }

    /// Instances idle in the pool now.
    pub(crate) fn idle_instances(&self) -> usize {
        self.idle.lock().unwrap().len()
    }

    /// The endpoint's health now.
    pub(crate) fn health(&self) -> HealthStatus {
        self.health.status()
    }

    /// Returned stream bodies still draining.
    pub(crate) fn streams_in_flight(&self) -> usize {
        self.draining.load(Ordering::Acquire)
    }

    /// Calls that could start now without waiting.
    pub(crate) fn available_permits(&self) -> usize {
        self.permits.available_permits()
    }

    /// Waits for a call slot (back-pressure).
    pub(crate) async fn acquire(&self) -> OwnedSemaphorePermit {
        self.permits.clone().acquire_owned().await.expect("the pool semaphore is never closed")
    }

    /// The error of a call that found no free slot within its timeout.
    pub(crate) fn busy(&self) -> WasmError {
        WasmError::Busy {
            plugin: self.plugin.to_string(),
            max_concurrent: self.limits.max_concurrent,
            waited: self.limits.timeout,
        }
    }

    /// The semaphore bounding calls in flight (for `poll_ready`-style back-pressure).
    pub(crate) fn permits(&self) -> Arc<Semaphore> {
        self.permits.clone()
    }

    /// The version new instances are made of now.
    pub(crate) fn current_pre(&self) -> W::Pre {
        self.pre.lock().unwrap().pre.clone()
    }

    /// The generation of the current version (0 at load, one more per swap).
    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Hot reload: new instances are made of `pre` from now on; idle instances
    /// of the old version are dropped, and busy ones are dropped when given back
    /// (calls in flight finish on the old version). The `host-store` state is kept.
    pub(crate) fn swap(&self, pre: W::Pre) {
        if let Some(share) = &self.share
            && !share.re_reserve(Runtime::footprint(W::component(&pre), &self.limits))
        {
            tracing::warn!(plugin = %self.plugin, "the new version's reserved instance does not fit the pool; the old reservation stays");
        }
        let stale: Vec<Instance<W>> = {
            let mut idle = self.idle.lock().unwrap();
            let mut current = self.pre.lock().unwrap();
            current.pre = pre;
            current.generation += 1;
            self.generation.store(current.generation, Ordering::Release);
            idle.drain_front(usize::MAX)
        };
        for instance in stale {
            discard(instance);
        }
    }
}

impl<W: World> Reloadable for Pool<W> {
    fn prepare<'a>(&'a self, runtime: &'a Runtime, compiled: &'a Arc<Compiled>) -> BoxFuture<'a, Result<Commit<'a>, WasmError>> {
        Box::pin(async move {
            let pre = pre::<W>(runtime, compiled)?;
            Ok(Box::new(move || self.swap(pre)) as Commit<'a>)
        })
    }
}
