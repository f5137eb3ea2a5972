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

use std::collections::VecDeque;
use std::future::Future;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::{Duration, Instant};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use wasmtime::component::{Component, InstancePre};
use wasmtime::{PoolConcurrencyLimitError, Store};

use crate::error::{LoadError, WasmError};
use crate::exchange::StreamError;
use crate::health::{Health, HealthStatus};
use crate::bindings::WasmExchange;
use crate::host::{CallAllowlist, HostCtx, guest_scope, in_guest_call};
use crate::limits::{Isolation, Limits};
use crate::metrics::{EndpointMetrics, ErrorKind};
use crate::store::background::{self, Refill};
use crate::store::slots::EndpointShare;
use crate::store::trap;
use crate::store::{GuestLimiter, REUSE_HANDLE_SLACK, StoreState, new_store};
use crate::runtime::{Compiled, Runtime};
use crate::state::SharedState;
use crate::stream::from_guest::{self, DrainEnd, GuestStream};
use crate::stream::{Returned, StreamBounds, Streams, to_guest};

/// Attempts to free an allocator slot (by evicting idle instances) before an instantiation gives up.
const EVICTION_RETRIES: usize = 16;
/// Fresh instances an `isolation=per-call` endpoint keeps ready (made off the callers' path).
const SPARES: usize = 2;
/// Longest a spare's instantiation and `init` may take on the background thread
/// (within the call `timeout`), so that one slow endpoint delays others' spares at most this.
const SPARE_DEADLINE: Duration = Duration::from_secs(1);
/// How long an endpoint whose spare ran past [`SPARE_DEADLINE`] makes no spares (its callers instantiate their own).
const SPARE_BACKOFF: Duration = Duration::from_secs(30);

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
    /// What one call takes.
    type Input: Send;
    /// What one call gives back.
    type Output: Send;

    /// Where a compiled file keeps this world's `Pre`.
    fn slot(compiled: &Compiled) -> &OnceLock<Result<Self::Pre, LoadError>>;

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

    /// Whether the guest answered with its own error.
    fn guest_failed(output: &Self::Output) -> bool;

    /// The method a call invokes, for worlds with methods (beans): a shared
    /// name, so that naming it in the span and the metrics copies nothing.
    fn method(_input: &Self::Input) -> Option<Arc<str>> {
        None
    }

    /// The exchange a call sends, for worlds whose calls may carry stream bodies.
    fn sent_exchange(_input: &mut Self::Input) -> Option<&mut WasmExchange> {
        None
    }

    /// The exchange a call returned, for worlds whose guests may return stream bodies.
    fn returned_exchange(_output: &mut Self::Output) -> Option<&mut WasmExchange> {
        None
    }

    /// Makes one call.
    fn call(
        bindings: &Self::Bindings,
        store: &mut Store<StoreState>,
        input: Self::Input,
    ) -> impl Future<Output = wasmtime::Result<Self::Output>> + Send;
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
    idle: Mutex<VecDeque<Instance<W>>>,
    /// Whether a refill of the spares is queued or running (per-call isolation).
    refilling: std::sync::atomic::AtomicBool,
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
pub(crate) struct CallOutput<O> {
    /// The world's output.
    pub(crate) output: O,
    /// The properties the guest set with `set-property`.
    pub(crate) set: Vec<(String, String)>,
    /// The stream body the guest returned, now draining, and where it goes.
    pub(crate) returned: Option<Returned>,
}

/// What the runtime sees of a pool: its idle instances, for eviction across endpoints.
pub(crate) trait IdleInstances: Send + Sync {
    /// When the oldest idle instance went idle.
    fn oldest_idle(&self) -> Option<Instant>;
    /// Drops the oldest idle instance now, freeing its allocator slot; false when none is idle.
    fn evict_oldest(&self) -> bool;
    /// Drops (off the caller's path) instances idle since before `cutoff`.
    fn evict_idle_before(&self, cutoff: Instant);
    /// Whether the endpoint holds more than its reserved share of the pool.
    fn over_share(&self) -> bool;
}

impl<W: World> Pool<W> {
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
            idle: Mutex::default(),
            refilling,
            permits,
            draining,
            metrics,
            health,
            generation: AtomicU64::new(0),
            share,
            spares_paused_until: Mutex::default(),
        }
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

    /// Calls the guest with `input`; the guest sees `properties` through
    /// `get-property` and reads `streams` as the stream bodies of its exchange.
    ///
    /// Uses `permit` when the caller already holds a call slot, else waits for one.
    /// A stream body the guest returns keeps the instance and the slot until it
    /// has drained; the instance is reused only when it ended cleanly.
    ///
    /// Each call is a `wasm_call` span (plugin, world, method, correlation and
    /// route ids), is counted in the endpoint's metrics, and moves its health.
    pub(crate) async fn call(
        self: &Arc<Self>,
        mut input: W::Input,
        properties: Vec<(String, String)>,
        permit: Option<OwnedSemaphorePermit>,
        streams: Streams,
    ) -> Result<CallOutput<W::Output>, WasmError> {
        let started = Instant::now();
        let method = W::method(&input);
        let span = match W::sent_exchange(&mut input) {
            Some(sent) => tracing::info_span!(
                "wasm_call",
                plugin = %self.plugin,
                world = W::NAME,
                method = method.as_deref().unwrap_or_default(),
                correlation_id = %sent.correlation_id,
                route_id = sent.route_id.as_deref().unwrap_or_default(),
            ),
            None => tracing::info_span!("wasm_call", plugin = %self.plugin, world = W::NAME),
        };
        let outcome = tracing::Instrument::instrument(self.run_call(started, input, properties, permit, streams), span).await;
        let kind = match &outcome {
            Err(error) => {
                self.health.record(Some(error));
                Some(ErrorKind::of(error))
            }
            // The guest answered with its own error: counted, but it says nothing of health.
            Ok(out) if W::guest_failed(&out.output) => Some(ErrorKind::Guest),
            Ok(_) => {
                self.health.record(None);
                None
            }
        };
        self.metrics.call(method.as_deref(), started.elapsed(), kind);
        outcome
    }

    async fn run_call(
        self: &Arc<Self>,
        started: Instant,
        mut input: W::Input,
        properties: Vec<(String, String)>,
        permit: Option<OwnedSemaphorePermit>,
        streams: Streams,
    ) -> Result<CallOutput<W::Output>, WasmError> {
        if in_guest_call() {
            return Err(WasmError::Recursive { plugin: self.plugin.to_string() });
        }
        // The deadline runs from when the call has its slot.
        let (permit, slotted) = match permit {
            Some(permit) => (permit, started),
            None => match self.permits.clone().try_acquire_owned() {
                // A free slot: no wait, and no clock read to time it.
                Ok(permit) => {
                    self.metrics.slot_wait(Duration::ZERO);
                    (permit, started)
                }
                Err(_) => {
                    // Waiting for a slot is bounded by the call's timeout too.
                    let waiting = Instant::now();
                    let Ok(permit) = tokio::time::timeout(self.limits.timeout, self.acquire()).await else {
                        self.metrics.slot_wait(waiting.elapsed());
                        return Err(self.busy());
                    };
                    let slotted = Instant::now();
                    self.metrics.slot_wait(slotted - waiting);
                    (permit, slotted)
                }
            },
        };
        // A call that needs no timer nor wait for a slot passes no other tokio
        // resource: this keeps a caller looping on calls yielding to the other
        // tasks of its worker now and then (tokio's cooperative budget).
        tokio::task::consume_budget().await;
        let deadline = self.limits.deadline_from(slotted);
        let checked_out = self.checkout();
        if self.limits.isolation == Isolation::PerCall {
            self.want_spares();
        }
        let mut instance = match checked_out {
            Some(instance) => instance,
            // Boxed so the rare instantiation does not bloat every call's future.
            None => Box::pin(guest_scope(self.instantiate(deadline, true))).await?,
        };
        let state = instance.store.data_mut();
        state.arm(deadline);
        state.host.begin_call(properties);
        if let Err(err) = self.attach_streams(&mut instance.store, &mut input, streams) {
            let err = trap::classify(&self.plugin, &self.limits, err, instance.store.data());
            discard(instance);
            return Err(err);
        }
        // Boxed: the call future is large, and moving it through the timeout
        // and task-local wrappers would otherwise copy it on every poll setup.
        let run = Box::pin(W::call(&instance.bindings, &mut instance.store, input));
        let outcome = guest_scope(until_deadline(deadline, run)).await;
        let mut output = match self.settle(outcome, instance.store.data()) {
            Ok(output) => output,
            Err(err) => {
                discard(instance);
                return Err(err);
            }
        };
        let set = instance.store.data_mut().host.end_call();
        instance.calls += 1;
        let returned = match W::returned_exchange(&mut output) {
            Some(exchange) => from_guest::take_returned(&mut instance.store, exchange),
            None => Ok(None),
        };
        match returned {
            Ok(None) => {
                self.recycle(instance);
                Ok(CallOutput { output, set, returned: None })
            }
            Ok(Some(stream)) => {
                let returned = stream.returned();
                self.clone().spawn_drain(instance, stream, permit);
                Ok(CallOutput { output, set, returned: Some(returned) })
            }
            Err(reason) => {
                discard(instance);
                Err(WasmError::InvalidOutput { plugin: self.plugin.to_string(), reason })
            }
        }
    }

    /// Hands the host stream bodies of a call to the guest's store.
    fn attach_streams(&self, store: &mut Store<StoreState>, input: &mut W::Input, streams: Streams) -> wasmtime::Result<()> {
        if streams.is_empty() {
            return Ok(());
        }
        let Some(exchange) = W::sent_exchange(input) else {
            wasmtime::bail!("the {} world takes no stream bodies", W::NAME);
        };
        let bounds = StreamBounds::new(self.plugin.clone(), &self.limits).counting(self.metrics.stream_counter(true));
        to_guest::attach(store, exchange, streams, &bounds)
    }

    /// Gives an instance back after a call, unless guest tasks outlived the call:
    /// those would run (and write, or trap) during the next one.
    fn recycle(&self, mut instance: Instance<W>) {
        let leaked = |i: &mut Instance<W>| i.store.data_mut().live_handles() > i.settled_handles + REUSE_HANDLE_SLACK;
        if instance.store.concurrent_state_table_size() > instance.settled_tasks || leaked(&mut instance) {
            discard(instance);
        } else {
            self.give_back(instance);
        }
    }

    /// Drains a returned stream on its own task, which owns the instance and the call slot.
    fn spawn_drain(self: Arc<Self>, mut instance: Instance<W>, stream: GuestStream, permit: OwnedSemaphorePermit) {
        self.draining.fetch_add(1, Ordering::AcqRel);
        let bounds = StreamBounds::new(self.plugin.clone(), &self.limits).counting(self.metrics.stream_counter(false));
        let task = async move {
            let (end, sender) = from_guest::drain(&mut instance.store, stream, &bounds).await;
            let failure = match end {
                DrainEnd::Clean => {
                    self.let_guest_tasks_finish(&mut instance).await;
                    self.recycle(instance);
                    None
                }
                DrainEnd::Cancelled => {
                    discard(instance);
                    None
                }
                DrainEnd::Failed(error) => {
                    discard(instance);
                    Some(error)
                }
                DrainEnd::Wasm(err) => {
                    let error = if instance.store.data().timed_out {
                        StreamError::Idle { plugin: self.plugin.to_string(), timeout: bounds.idle_timeout }
                    } else {
                        StreamError::Plugin(trap::classify(&self.plugin, &self.limits, err, instance.store.data()))
                    };
                    discard(instance);
                    Some(error)
                }
            };
            drop(permit);
            self.draining.fetch_sub(1, Ordering::AcqRel);
            if let Some(error) = failure {
                from_guest::report(&sender, error).await;
            }
        };
        tokio::spawn(guest_scope(task));
    }

    /// Lets the guest's writer task, which resolved the terminal future, run to its end.
    async fn let_guest_tasks_finish(&self, instance: &mut Instance<W>) {
        for _ in 0..8 {
            if instance.store.concurrent_state_table_size() <= instance.settled_tasks {
                return;
            }
            let turn = instance.store.run_concurrent(async |_| tokio::task::yield_now().await);
            if tokio::time::timeout(Duration::from_millis(50), turn).await.is_err() {
                return;
            }
        }
    }

    /// Runs `f` on a fresh instance whose `init` has not run, then drops it (used at load).
    pub(crate) async fn with_fresh_instance<R>(
        &self,
        f: impl AsyncFnOnce(&W::Bindings, &mut Store<StoreState>) -> wasmtime::Result<R>,
    ) -> Result<R, WasmError> {
        let pre = self.current_pre();
        self.with_fresh_instance_of(&pre, f).await
    }

    /// Like [`with_fresh_instance`](Self::with_fresh_instance), on version `pre`
    /// (a hot reload's candidate, before it is swapped in).
    pub(crate) async fn with_fresh_instance_of<R>(
        &self,
        pre: &W::Pre,
        f: impl AsyncFnOnce(&W::Bindings, &mut Store<StoreState>) -> wasmtime::Result<R>,
    ) -> Result<R, WasmError> {
        let deadline = self.limits.deadline_from(Instant::now());
        let mut store = self.new_store(deadline);
        let run = async {
            let bindings = self.instantiate_pre_in(pre, &mut store, true).await?;
            f(&bindings, &mut store).await
        };
        let outcome = tokio::time::timeout_at(deadline.into(), run).await;
        self.settle(outcome, store.data())
    }

    fn new_store(&self, deadline: Instant) -> Store<StoreState> {
        let endpoints = self.runtime.endpoints().clone();
        let (allowlist, bounds) = (self.allowlist.clone(), self.limits.property_bounds());
        let mut host = HostCtx::new(endpoints, allowlist, W::MAY_CALL, self.state.clone(), bounds);
        host.denied = self.metrics.denied_counter();
        let mut store = new_store(self.runtime.engine(), StoreState::new(host, GuestLimiter::new(&self.limits)));
        store.data_mut().arm(deadline);
        store
    }

    /// Instantiates in `store`; when the pooling allocator is out of slots,
    /// evicts the least recently used idle instance of any endpoint and tries
    /// again, if `may_evict` (a spare never evicts).
    async fn instantiate_in(&self, store: &mut Store<StoreState>, may_evict: bool) -> wasmtime::Result<W::Bindings> {
        let pre = self.current_pre();
        self.instantiate_pre_in(&pre, store, may_evict).await
    }

    /// Like [`instantiate_in`](Self::instantiate_in), of version `pre`.
    async fn instantiate_pre_in(
        &self,
        pre: &W::Pre,
        store: &mut Store<StoreState>,
        may_evict: bool,
    ) -> wasmtime::Result<W::Bindings> {
        self.runtime.evict_idle_instances();
        if store.data().slot.is_none() {
            let parts = Runtime::footprint(W::component(pre), &self.limits);
            let evict_own = || IdleInstances::evict_oldest(self);
            store.data_mut().slot = self.runtime.take_slot(self.share.as_ref(), parts, may_evict, evict_own).await?;
        }
        let mut attempt = 0;
        loop {
            match W::instantiate(pre, store).await {
                Err(e) if may_evict && e.is::<PoolConcurrencyLimitError>() && attempt < EVICTION_RETRIES => {
                    attempt += 1;
                    if attempt == 1 {
                        // Instances waiting for the background thread still hold their slots.
                        background::drop_pending_now();
                        continue;
                    }
                    if !self.runtime.evict_least_recently_used(false) {
                        return Err(e.context(
                            "every instance slot of the runtime is in use by calls in flight \
                             (raise RuntimeBuilder::max_instances, or lower max-concurrent)",
                        ));
                    }
                }
                other => return other,
            }
        }
    }

    /// The newest idle instance of the current version; stale ones met on the way are dropped.
    fn checkout(&self) -> Option<Instance<W>> {
        let mut idle = self.idle.lock().unwrap();
        let generation = self.generation();
        while let Some(instance) = idle.pop_back() {
            // A per-call endpoint's idle instances are spares no exchange has used.
            let fresh_enough = self.limits.isolation == Isolation::Reuse || instance.calls == 0;
            if instance.generation == generation && fresh_enough {
                self.metrics.idle.set(idle.len() as f64);
                return Some(instance);
            }
            discard(instance);
        }
        None
    }

    /// Keeps an instance for the next call, unless it is spent or of a version swapped out.
    fn give_back(&self, mut instance: Instance<W>) {
        let reuse = self.limits.isolation == Isolation::Reuse && instance.calls < self.limits.recycle_after;
        if reuse {
            // Under the idle lock, which `swap` holds too: a stale instance never goes back.
            let mut idle = self.idle.lock().unwrap();
            if instance.generation == self.generation() {
                instance.idle_since = Instant::now();
                idle.push_back(instance);
                self.metrics.idle.set(idle.len() as f64);
                return;
            }
        }
        discard(instance);
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
            idle.drain(..).collect()
        };
        for instance in stale {
            discard(instance);
        }
    }

    /// A new instance with its `init` run; an `init` failure is the call's error.
    /// Only a caller's instantiation (`may_evict`) evicts idle instances for a slot.
    async fn instantiate(&self, deadline: Instant, may_evict: bool) -> Result<Instance<W>, WasmError> {
        // Read before the version is: at worst a new instance is tagged stale and not reused.
        let generation = self.generation();
        let mut store = self.new_store(deadline);
        let setup = async {
            let bindings = self.instantiate_in(&mut store, may_evict).await?;
            let init = W::init(&bindings, &mut store, &self.config).await?;
            Ok::<_, wasmtime::Error>((bindings, init))
        };
        let outcome = tokio::time::timeout_at(deadline.into(), setup).await;
        match self.settle(outcome, store.data())? {
            (bindings, Ok(())) => {
                let settled_tasks = store.concurrent_state_table_size();
                let settled_handles = store.data_mut().live_handles();
                self.metrics.instantiated();
                let _live = LiveInstance(self.metrics.live.clone());
                let idle_since = Instant::now();
                Ok(Instance { store, bindings, calls: 0, idle_since, settled_tasks, settled_handles, generation, _live })
            }
            (_, Err(message)) => Err(WasmError::InitFailed { plugin: self.plugin.to_string(), message }),
        }
    }

    /// The typed result of guest work run under the deadline (see [`trap::settle`]).
    fn settle<T>(
        &self,
        outcome: Result<wasmtime::Result<T>, tokio::time::error::Elapsed>,
        state: &StoreState,
    ) -> Result<T, WasmError> {
        trap::settle(&self.plugin, &self.limits, outcome, state)
    }
}

/// Spare instances of `isolation=per-call` endpoints.
impl<W: World> Pool<W> {
    /// Fresh instances this endpoint keeps ready.
    fn spares_wanted(&self) -> usize {
        SPARES.min(self.limits.max_concurrent)
    }

    /// Queues a refill of the spares on the background thread, unless one is queued
    /// already or there is no multi-threaded tokio runtime to run guest code on.
    fn want_spares(self: &Arc<Self>) {
        let Ok(handle) = tokio::runtime::Handle::try_current() else { return };
        // On a current-thread runtime only its own thread drives timers and I/O.
        if handle.runtime_flavor() != tokio::runtime::RuntimeFlavor::MultiThread || self.refilling.swap(true, Ordering::AcqRel) {
            return;
        }
        if !background::request_refill(Arc::downgrade(self) as Weak<dyn Refill>, handle) {
            self.refilling.store(false, Ordering::Release);
        }
    }

    /// Whether another spare should be made now: fewer than wanted, and a call
    /// slot free (callers at `max-concurrent` would not use it before one ends).
    fn needs_spare(&self) -> bool {
        let paused = self.spares_paused_until.lock().unwrap().is_some_and(|until| Instant::now() < until);
        !paused && self.permits.available_permits() > 0 && self.idle.lock().unwrap().len() < self.spares_wanted()
    }

    /// Keeps a new spare, unless the version changed while it was made.
    fn keep_spare(&self, instance: Instance<W>) -> bool {
        let mut idle = self.idle.lock().unwrap();
        if instance.generation != self.generation() || idle.len() >= self.spares_wanted() {
            drop(idle);
            discard(instance);
            return false;
        }
        idle.push_back(instance);
        self.metrics.idle.set(idle.len() as f64);
        true
    }
}

impl<W: World> Refill for Pool<W> {
    fn refill_one(&self, handle: &tokio::runtime::Handle) -> bool {
        // Cleared first: a call that takes a spare meanwhile queues another refill.
        self.refilling.store(false, Ordering::Release);
        if !self.needs_spare() {
            return false;
        }
        let now = Instant::now();
        let deadline = self.limits.deadline_from(now).min(now + SPARE_DEADLINE);
        // A failing `init` fails the next call instead, on the caller's path.
        let instance = match handle.block_on(guest_scope(self.instantiate(deadline, false))) {
            Ok(instance) => instance,
            Err(error) => {
                if matches!(error, WasmError::Timeout { .. }) {
                    tracing::warn!(plugin = %self.plugin, "a spare instance took over {SPARE_DEADLINE:?} to start; no spares for {SPARE_BACKOFF:?}");
                    *self.spares_paused_until.lock().unwrap() = Some(Instant::now() + SPARE_BACKOFF);
                }
                return false;
            }
        };
        // Queued again only if no call queued it meanwhile.
        self.keep_spare(instance) && self.needs_spare() && !self.refilling.swap(true, Ordering::AcqRel)
    }
}

impl<W: World> IdleInstances for Pool<W> {
    fn oldest_idle(&self) -> Option<Instant> {
        self.idle.lock().unwrap().front().map(|i| i.idle_since)
    }

    fn evict_oldest(&self) -> bool {
        let oldest = {
            let mut idle = self.idle.lock().unwrap();
            let oldest = idle.pop_front();
            self.metrics.idle.set(idle.len() as f64);
            oldest
        };
        // Dropped here, not off the path: the caller needs the slot back now.
        oldest.is_some()
    }

    fn over_share(&self) -> bool {
        self.share.as_ref().is_some_and(|s| s.is_over())
    }

    fn evict_idle_before(&self, cutoff: Instant) {
        let expired: Vec<Instance<W>> = {
            let mut idle = self.idle.lock().unwrap();
            let keep_from = idle.iter().position(|i| i.idle_since >= cutoff).unwrap_or(idle.len());
            let expired = idle.drain(..keep_from).collect();
            self.metrics.idle.set(idle.len() as f64);
            expired
        };
        for instance in expired {
            discard(instance);
        }
    }
}

/// Runs `work` until `deadline`: an elapsed deadline is `Err(Elapsed)`.
///
/// The timer is armed only if `work` does not finish on its first poll: most
/// guest calls run to their end without waiting on the host, and the store's
/// epoch deadline already stops a guest that computes past `deadline`.
async fn until_deadline<F: Future + Unpin>(deadline: Instant, mut work: F) -> Result<F::Output, tokio::time::error::Elapsed> {
    use std::task::Poll;
    let first = std::future::poll_fn(|cx| Poll::Ready(std::pin::Pin::new(&mut work).poll(cx))).await;
    match first {
        Poll::Ready(output) => Ok(output),
        Poll::Pending => tokio::time::timeout_at(deadline.into(), work).await,
    }
}

/// How long an instance may sit idle before it is dropped, unless configured.
pub(crate) const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// Drops an instance off the caller's path (on the background thread).
fn discard<W: World>(instance: Instance<W>) {
    drop_off_path(instance);
}

fn drop_off_path<T: Send + 'static>(value: T) {
    background::drop_later(value);
}
