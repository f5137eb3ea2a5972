//! The runtime: one engine, one linker, compiled components shared by every endpoint.

mod disk_cache;
mod epoch;
mod load;
pub(crate) mod reload;

use std::any::Any;
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use wasmtime::component::{Component, InstancePre, Linker};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

use crate::error::{LoadError, WasmError};
use crate::host::{self, Endpoints};
use crate::limits::{EndpointUri, Limits};
use crate::state::{SharedState, StateBackend, StateStores};
use crate::store::StoreState;
use crate::store::background;
use crate::store::slots::{EndpointShare, Exhausted, Parts, SlotGuard, Slots};
use disk_cache::{Bounds, Cached, DiskCache};

pub use reload::{ReloadOutcome, ReloadStats, ReloadWatcher};

/// Builds a [`Runtime`].
#[derive(Debug, Clone)]
pub struct RuntimeBuilder {
    base_dir: PathBuf,
    endpoints: Endpoints,
    pooling: bool,
    cache_dir: Option<PathBuf>,
    cache_bounds: Bounds,
    max_instances: u32,
    memory_ceiling: u64,
    idle_timeout: Duration,
    state: StateBackend,
}

impl Default for RuntimeBuilder {
    fn default() -> Self {
        Self {
            base_dir: PathBuf::from("."),
            endpoints: Endpoints::new(),
            pooling: true,
            cache_dir: None,
            cache_bounds: Bounds::default(),
            max_instances: 256,
            memory_ceiling: 1 << 30,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            state: StateBackend::Memory,
        }
    }
}

/// The most core instances, memories or tables one guest may have (`max-instances`, `max-tables`).
pub(crate) const COMPONENT_PARTS_CEILING: u32 = 64;
/// The most elements one table may have (`max-table-elements`, per table in the pooling allocator).
pub(crate) const TABLE_ELEMENTS_CEILING: u64 = 100_000;
/// Tries for pool room before a caller's instantiation gives up (about 1 ms apart when nothing can be evicted).
const SLOT_ATTEMPTS: usize = 50;
/// Pooled memories per instance slot (a Rust guest has two: its own and the WASI adapter's).
const MEMORIES_PER_INSTANCE: u32 = 2;
/// Pooled tables per instance slot.
const TABLES_PER_INSTANCE: u32 = 4;

impl RuntimeBuilder {
    /// Directory that plugin paths are resolved against (default: the current directory).
    pub fn base_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.base_dir = dir.into();
        self
    }

    /// Endpoints that guests reach with `camel-call` and `camel-poll`.
    pub fn endpoints(mut self, endpoints: Endpoints) -> Self {
        self.endpoints = endpoints;
        self
    }

    /// Whether to try the pooling instance allocator (default: yes, with fallback).
    pub fn pooling(mut self, enabled: bool) -> Self {
        self.pooling = enabled;
        self
    }

    /// Most instances alive at once across all plugins (sizes the pooling allocator; default 256).
    pub fn max_instances(mut self, count: u32) -> Self {
        self.max_instances = count;
        self
    }

    /// Largest `max-memory` any plugin may ask for (sizes each pooled memory; default 1 GiB).
    pub fn memory_ceiling(mut self, bytes: u64) -> Self {
        self.memory_ceiling = bytes;
        self
    }

    /// How long a warm instance may sit unused before it is dropped (default 60 s).
    ///
    /// When the pooling allocator runs out of slots, the least recently used
    /// idle instance of any endpoint is dropped first, whatever its age.
    pub fn idle_timeout(mut self, idle: Duration) -> Self {
        self.idle_timeout = idle;
        self
    }

    /// Where endpoints keep `host-store` state unless their `state` knob says otherwise
    /// (default [`StateBackend::Memory`]; `"redis://127.0.0.1:6379/0".parse()?` for Redis).
    pub fn state(mut self, backend: StateBackend) -> Self {
        self.state = backend;
        self
    }

    /// Keeps compiled components in `dir`, so a restart does not recompile (default: off).
    pub fn cache_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cache_dir = Some(dir.into());
        self
    }

    /// Most bytes of entries the disk cache keeps (default 1 GiB): the least recently
    /// used go first, never one a loaded component was compiled from.
    pub fn cache_max_bytes(mut self, bytes: u64) -> Self {
        self.cache_bounds.max_bytes = bytes;
        self
    }

    /// Removes disk cache entries unused for longer than `age`, except those of loaded
    /// components (default: no age bound).
    pub fn cache_max_age(mut self, age: Duration) -> Self {
        self.cache_bounds.max_age = Some(age);
        self
    }

    /// Creates the engine, the linker and the epoch ticker.
    pub fn build(self) -> Result<Runtime, WasmError> {
        let runtime_error = |e: wasmtime::Error| WasmError::Runtime { plugin: "<runtime>".into(), message: format!("{e:#}") };
        let pool = self.pooling.then(|| pool_config(self.max_instances, self.memory_ceiling));
        let (engine, pooling) = new_engine(pool).map_err(runtime_error)?;
        let slots = pooling.then(|| {
            let n = u64::from(self.max_instances);
            let per = |k: u32| n.saturating_mul(k.into());
            Slots::new(Parts { instances: n, memories: per(MEMORIES_PER_INSTANCE), tables: per(TABLES_PER_INSTANCE) })
        });
        let mut linker = Linker::<StoreState>::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(runtime_error)?;
        host::add_to_linker(&mut linker).map_err(runtime_error)?;
        crate::source::add_to_linker(&mut linker).map_err(runtime_error)?;
        let disk = match &self.cache_dir {
            Some(dir) => Some(DiskCache::open(dir, self.cache_bounds).map_err(|e| WasmError::Runtime {
                plugin: "<runtime>".into(),
                message: format!("cache directory {}: {e}", dir.display()),
            })?),
            None => None,
        };
        let ticker = epoch::Ticker::start(&engine);
        let runtime = Runtime {
            inner: Arc::new(Inner {
                engine,
                linker,
                base_dir: self.base_dir,
                endpoints: self.endpoints,
                compiled: Mutex::default(),
                disk,
                memory_ceiling: self.memory_ceiling,
                idle_timeout: self.idle_timeout,
                pools: Mutex::default(),
                last_sweep: Mutex::new(Instant::now()),
                stats: Counters::default(),
                reload: reload::Registry::default(),
                pooling,
                slots,
                state: StateStores::new(self.state),
                _ticker: ticker,
            }),
        };
        runtime.prune_disk_cache(None);
        Ok(runtime)
    }
}

/// Pooling allocator limits derived from the runtime's configuration.
fn pool_config(max_instances: u32, memory_ceiling: u64) -> PoolingAllocationConfig {
    let mut pool = PoolingAllocationConfig::default();
    // A Rust guest component has a few core instances (guest, WASI adapter,
    // shims), two memories and a couple of tables.
    // Each guest is further held to its own max-instances / max-tables /
    // max-table-elements / max-memory by the store's limiter.
    // Memories and tables are shared out by the runtime's slot ledger (each
    // endpoint reserves one instance's worth; see `slots`); core instances
    // cost the pool only a count, so every guest may have its ceiling of them.
    pool.total_component_instances(max_instances)
        .total_core_instances(max_instances.saturating_mul(COMPONENT_PARTS_CEILING))
        .total_memories(max_instances.saturating_mul(MEMORIES_PER_INSTANCE))
        .total_tables(max_instances.saturating_mul(TABLES_PER_INSTANCE))
        .total_stacks(max_instances)
        .max_core_instances_per_component(COMPONENT_PARTS_CEILING)
        .max_memories_per_component(COMPONENT_PARTS_CEILING)
        .max_tables_per_component(COMPONENT_PARTS_CEILING)
        .table_elements(TABLE_ELEMENTS_CEILING as usize)
        .max_memory_size(usize::try_from(memory_ceiling).unwrap_or(usize::MAX))
        .linear_memory_keep_resident(2 << 20)
        .table_keep_resident(256 << 10)
        .pagemap_scan(wasmtime::Enabled::Auto);
    pool
}

/// An engine configured for these worlds: async components, epoch deadlines,
/// and the pooling allocator when `pool` is given and its address space can
/// be reserved (else instances are allocated on demand, with a log line).
fn new_engine(pool: Option<PoolingAllocationConfig>) -> wasmtime::Result<(Engine, bool)> {
    let mut config = Config::new();
    config.wasm_component_model_async(true);
    config.epoch_interruption(true);
    if let Some(pool) = pool {
        let mut pooled = config.clone();
        pooled.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        match Engine::new(&pooled) {
            Ok(engine) => return Ok((engine, true)),
            Err(e) => tracing::warn!("pooling allocator unavailable ({e:#}); allocating instances on demand"),
        }
    }
    Ok((Engine::new(&config)?, false))
}

/// The runtime shared by every plugin: cheap to clone.
#[derive(Clone)]
pub struct Runtime {
    inner: Arc<Inner>,
}

struct Inner {
    engine: Engine,
    linker: Linker<StoreState>,
    base_dir: PathBuf,
    endpoints: Endpoints,
    /// Compiled components by file and content, while an endpoint (or a load under way) holds them.
    compiled: Mutex<HashMap<(PathBuf, blake3::Hash), Weak<Compiled>>>,
    disk: Option<DiskCache>,
    memory_ceiling: u64,
    idle_timeout: Duration,
    /// Every endpoint's pool, weakly, for evicting idle instances across endpoints.
    pools: Mutex<Vec<Weak<dyn IdleInstances>>>,
    last_sweep: Mutex<Instant>,
    stats: Counters,
    /// Every endpoint by the file it was loaded from, for hot reload.
    reload: reload::Registry,
    pooling: bool,
    /// The pooling allocator's memories and tables, shared out per endpoint (none without pooling).
    slots: Option<Arc<Slots>>,
    /// Every endpoint's `host-store` state: the default backend and shared connections.
    state: StateStores,
    _ticker: epoch::Ticker,
}

/// How long an instance may sit idle before it is dropped, unless configured.
pub(crate) const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// What the runtime sees of an endpoint's pool: its idle instances, for eviction across endpoints.
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

/// How components reached memory since the runtime started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CompileStats {
    /// Files compiled by Cranelift.
    pub compiled: u64,
    /// Files loaded from the disk cache instead.
    pub disk_hits: u64,
    /// Disk cache entries refused as corrupt or tampered (then recompiled).
    pub disk_rejected: u64,
}

#[derive(Default)]
struct Counters {
    compiled: AtomicU64,
    disk_hits: AtomicU64,
    disk_rejected: AtomicU64,
}

/// When a freshly compiled component enters the compiled set and the disk cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Admit {
    /// At once: a component being loaded for an endpoint.
    Now,
    /// Once its endpoints take it: a reload candidate.
    OnCommit,
}

/// One compiled `.wasm` file and its pre-instantiated form per world.
pub(crate) struct Compiled {
    pub(crate) name: Arc<str>,
    /// The file it was read from, every symlink resolved.
    pub(crate) resolved: PathBuf,
    /// The hash of the bytes it was compiled from.
    pub(crate) hash: blake3::Hash,
    pub(crate) component: Component,
    /// Its pre-instantiated form per world (by world name), each made once.
    pres: Mutex<Vec<(&'static str, Box<dyn Any + Send + Sync>)>>,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("base_dir", &self.inner.base_dir)
            .field("pooling", &self.inner.pooling)
            .finish_non_exhaustive()
    }
}

impl Runtime {
    /// A runtime with default settings.
    pub fn new() -> Result<Self, WasmError> {
        RuntimeBuilder::default().build()
    }

    /// Starts configuring a runtime.
    pub fn builder() -> RuntimeBuilder {
        RuntimeBuilder::default()
    }

    /// The endpoints guests can call.
    pub fn endpoints(&self) -> &Endpoints {
        &self.inner.endpoints
    }

    /// Whether instances come from the pooling allocator.
    pub fn uses_pooling(&self) -> bool {
        self.inner.pooling
    }

    /// Where endpoints keep `host-store` state unless their `state` knob says otherwise.
    pub fn default_state(&self) -> &StateBackend {
        self.inner.state.default_backend()
    }

    /// The `host-store` state of an endpoint on plugin `path` with `limits` (connects on first use).
    pub(crate) fn state_for(&self, path: &str, limits: &Limits) -> SharedState {
        self.inner.state.store_for(path, limits)
    }

    /// How components were obtained: compiled, or loaded from the disk cache.
    pub fn compile_stats(&self) -> CompileStats {
        let c = &self.inner.stats;
        CompileStats {
            compiled: c.compiled.load(Ordering::Relaxed),
            disk_hits: c.disk_hits.load(Ordering::Relaxed),
            disk_rejected: c.disk_rejected.load(Ordering::Relaxed),
        }
    }

    /// How many compiled components are in memory: one per distinct file and
    /// content that a live endpoint runs (or a load under way holds).
    pub fn compiled_count(&self) -> usize {
        self.inner.reload.sweep();
        self.inner.compiled.lock().unwrap().values().filter(|c| c.strong_count() > 0).count()
    }

    /// Checks `limits` against this runtime's ceilings.
    fn check_limits(&self, limits: &Limits) -> Result<(), LoadError> {
        limits.validate()?;
        let above = |name: &str, value: u64, reason: String| {
            LoadError::Config(crate::limits::ConfigError::InvalidValue { name: name.into(), value: value.to_string(), reason })
        };
        let parts = COMPONENT_PARTS_CEILING;
        let ceiling = self.inner.memory_ceiling;
        if limits.max_memory > ceiling {
            return Err(above("max-memory", limits.max_memory, format!("above the runtime's memory ceiling of {ceiling} bytes")));
        }
        if limits.max_instances > parts {
            let reason = format!("above the ceiling of {parts} core instances per guest");
            return Err(above("max-instances", limits.max_instances.into(), reason));
        }
        if limits.max_tables > parts {
            return Err(above("max-tables", limits.max_tables.into(), format!("above the ceiling of {parts} tables per guest")));
        }
        if limits.max_table_elements > TABLE_ELEMENTS_CEILING {
            let reason = format!("above the ceiling of {TABLE_ELEMENTS_CEILING} table elements");
            return Err(above("max-table-elements", limits.max_table_elements, reason));
        }
        Ok(())
    }

    /// Compiles (or finds already compiled) the file at `path`, checked against `limits`.
    ///
    /// The file is opened once and read through that handle; Cranelift runs
    /// off the async worker threads (see [`off_async_workers`]).
    pub(crate) fn compile(&self, path: &str, limits: &Limits) -> Result<Arc<Compiled>, LoadError> {
        self.check_limits(limits)?;
        let opened = load::open(&self.inner.base_dir, path, limits.max_wasm_size)?;
        let hash = blake3::hash(&opened.bytes);
        self.compile_opened(path, opened, hash, Admit::Now)
    }

    /// Compiles (or finds already compiled) the file `opened` as `path`, whose bytes hash to `hash`.
    ///
    /// With [`Admit::Now`] it enters the compiled set (and the disk cache);
    /// a reload candidate ([`Admit::OnCommit`]) enters them through [`enter`](Self::enter) and
    /// [`cache_on_disk`](Self::cache_on_disk) once its endpoints take it, so one they refuse leaves nothing behind.
    fn compile_opened(
        &self,
        path: &str,
        opened: load::Opened,
        hash: blake3::Hash,
        admit: Admit,
    ) -> Result<Arc<Compiled>, LoadError> {
        let load::Opened { resolved, bytes } = opened;
        let key = (resolved, hash);
        if let Some(found) = self.inner.compiled.lock().unwrap().get(&key).and_then(Weak::upgrade) {
            return Ok(found);
        }
        let name: Arc<str> = Arc::from(path);
        let component = self.compile_or_reuse(&name, &bytes, &key.1, admit)?;
        let compiled = Arc::new(Compiled { name, resolved: key.0, hash, component, pres: Mutex::default() });
        Ok(match admit {
            Admit::Now => self.enter(&compiled),
            Admit::OnCommit => compiled,
        })
    }

    /// Puts `compiled` in the compiled set, or returns the equal one another load put there first.
    pub(crate) fn enter(&self, compiled: &Arc<Compiled>) -> Arc<Compiled> {
        let mut set = self.inner.compiled.lock().unwrap();
        set.retain(|_, c| c.strong_count() > 0);
        let slot = set.entry((compiled.resolved.clone(), compiled.hash)).or_default();
        match slot.upgrade() {
            Some(first) => first,
            None => {
                *slot = Arc::downgrade(compiled);
                compiled.clone()
            }
        }
    }

    /// Writes a reload candidate its endpoints took to the disk cache (on the calling
    /// thread), unless it is there already, then prunes the cache.
    pub(crate) fn cache_on_disk(&self, compiled: &Compiled) {
        if let Some(disk) = &self.inner.disk
            && let Err(e) = disk.store_if_missing(&self.inner.engine, &compiled.hash, &compiled.component)
        {
            tracing::warn!("could not write the compiled cache entry for '{}': {e}", compiled.name);
        }
        self.prune_disk_cache(None);
    }

    /// The contents of the compiled components endpoints hold.
    fn loaded_contents(&self) -> HashSet<blake3::Hash> {
        self.inner.reload.sweep();
        let set = self.inner.compiled.lock().unwrap();
        set.iter().filter(|(_, c)| c.strong_count() > 0).map(|((_, hash), _)| *hash).collect()
    }

    /// Holds the disk cache to its bounds, keeping every loaded content and `also`;
    /// a failure is logged, never fatal.
    fn prune_disk_cache(&self, also: Option<&blake3::Hash>) {
        let Some(disk) = &self.inner.disk else { return };
        let mut keep = self.loaded_contents();
        keep.extend(also);
        match disk.prune(&self.inner.engine, &keep) {
            Ok(pruned) if pruned.removed > 0 => {
                tracing::debug!(removed = pruned.removed, freed = pruned.freed, left = pruned.left, "pruned the compiled cache")
            }
            Ok(_) => {}
            Err(e) => tracing::warn!("could not prune the compiled cache: {e}"),
        }
    }

    /// A component from the disk cache when a verified one is there, else freshly
    /// compiled, and with [`Admit::Now`] stored there (then the cache is pruned).
    fn compile_or_reuse(&self, name: &str, bytes: &[u8], content: &blake3::Hash, admit: Admit) -> Result<Component, LoadError> {
        let engine = &self.inner.engine;
        let stats = &self.inner.stats;
        let compile = || {
            stats.compiled.fetch_add(1, Ordering::Relaxed);
            off_async_workers(|| load::compile(engine, name, bytes))
        };
        let Some(disk) = &self.inner.disk else {
            return compile();
        };
        match disk.load(engine, content) {
            Cached::Hit(component) => {
                stats.disk_hits.fetch_add(1, Ordering::Relaxed);
                return Ok(component);
            }
            Cached::Rejected(why) => {
                stats.disk_rejected.fetch_add(1, Ordering::Relaxed);
                tracing::warn!("compiled cache entry for '{name}' rejected ({why}); recompiling");
            }
            Cached::Miss => {}
        }
        let component = compile()?;
        if admit == Admit::OnCommit {
            return Ok(component);
        }
        if let Err(e) = disk.store(engine, content, &component) {
            tracing::warn!("could not write the compiled cache entry for '{name}': {e}");
        }
        // The new entry is not in the compiled set yet: pruning must not take it.
        self.prune_disk_cache(Some(content));
        Ok(component)
    }

    /// The pre-instantiated form of `compiled` for `world`, made once by `make`:
    /// imports are type-checked and exports looked up once per file, not per call.
    pub(crate) fn pre_in<P: Clone + Send + Sync + 'static>(
        &self,
        compiled: &Compiled,
        world: &'static str,
        make: impl FnOnce(InstancePre<StoreState>) -> wasmtime::Result<P>,
    ) -> Result<P, LoadError> {
        let mut pres = compiled.pres.lock().unwrap();
        if let Some((_, made)) = pres.iter().find(|(name, _)| *name == world)
            && let Some(made) = made.downcast_ref::<Result<P, LoadError>>()
        {
            return made.clone();
        }
        let made =
            self.inner.linker.instantiate_pre(&compiled.component).map_err(|e| load::import_error(&compiled.name, e)).and_then(
                |instance_pre| {
                    make(instance_pre).map_err(|e| LoadError::WorldMismatch {
                        plugin: compiled.name.to_string(),
                        world,
                        reason: format!("{e:#}"),
                    })
                },
            );
        pres.push((world, Box::new(made.clone())));
        made
    }

    /// Makes the endpoint on `compiled` known for eviction (`idle`) and hot reload (`reload`).
    pub(crate) fn track_endpoint(
        &self,
        compiled: &Arc<Compiled>,
        max_wasm_size: u64,
        idle: Weak<dyn IdleInstances>,
        reload: Weak<dyn reload::Reloadable>,
    ) {
        {
            let mut pools = self.inner.pools.lock().unwrap();
            pools.retain(|p| p.strong_count() > 0);
            pools.push(idle);
        }
        self.inner.reload.track(compiled, max_wasm_size, reload);
    }

    /// What one instance of `component` takes of the pool under `limits`.
    pub(crate) fn footprint(component: &Component, limits: &Limits) -> Parts {
        Parts::of(component, limits.max_instances, limits.max_tables)
    }

    /// Reserves one instance of `component` for a new endpoint of `plugin` (none without pooling).
    pub(crate) fn reserve_share(
        &self,
        plugin: &str,
        component: &Component,
        limits: &Limits,
    ) -> Result<Option<Arc<EndpointShare>>, WasmError> {
        let Some(slots) = &self.inner.slots else { return Ok(None) };
        let footprint = Self::footprint(component, limits);
        // Idle instances holding shared room make way, least recently used first.
        let mut attempt = 0;
        loop {
            let why = match slots.reserve(footprint) {
                Ok(share) => return Ok(Some(Arc::new(share))),
                Err(why) => why,
            };
            let pending = attempt == 0 && background::drop_pending_now_count() > 0;
            attempt += 1;
            if attempt > SLOT_ATTEMPTS || !(pending || self.evict_least_recently_used(true)) {
                return Err(WasmError::NoInstanceSlot { plugin: plugin.to_string(), reason: why.0 });
            }
        }
    }

    /// Room for one instance of `parts` in `share` (none without pooling). When
    /// the pool is full and `may_evict`: instances waiting to be dropped go
    /// first, then the endpoint's own idle ones (`evict_own`), then the least
    /// recently used idle instance of an endpoint past its reservation.
    pub(crate) async fn take_slot(
        &self,
        share: Option<&Arc<EndpointShare>>,
        parts: Parts,
        may_evict: bool,
        evict_own: impl Fn() -> bool,
    ) -> Result<Option<SlotGuard>, Exhausted> {
        let Some(share) = share else { return Ok(None) };
        let mut attempt = 0;
        loop {
            // Only a caller's instantiation (`may_evict`) may take the last room; a spare leaves it.
            let taken = if may_evict { share.take(parts) } else { share.take_leaving_room(parts) };
            let why = match taken {
                Ok(guard) => return Ok(Some(guard)),
                Err(why) => why,
            };
            attempt += 1;
            if !may_evict || attempt > SLOT_ATTEMPTS {
                return Err(why);
            }
            if attempt == 1 {
                background::drop_pending_now();
            } else if !evict_own() && !self.evict_least_recently_used(true) {
                // A drop or a spare the background thread has begun frees its room within moments.
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
    }

    /// The live pools.
    fn pools(&self) -> Vec<Arc<dyn IdleInstances>> {
        self.inner.pools.lock().unwrap().iter().filter_map(Weak::upgrade).collect()
    }

    /// Drops instances idle for longer than the idle timeout, at most once a second.
    pub(crate) fn evict_idle_instances(&self) {
        let now = Instant::now();
        {
            let mut last = self.inner.last_sweep.lock().unwrap();
            if now.duration_since(*last) < Duration::from_secs(1) {
                return;
            }
            *last = now;
        }
        if let Some(cutoff) = now.checked_sub(self.inner.idle_timeout) {
            for pool in self.pools() {
                pool.evict_idle_before(cutoff);
            }
        }
    }

    /// Drops the least recently used idle instance of any endpoint; false when none is idle.
    /// With `shared_only`, only of endpoints past their reservation (whose instances hold shared room).
    pub(crate) fn evict_least_recently_used(&self, shared_only: bool) -> bool {
        let pools = self.pools();
        let candidates = pools.iter().filter(|p| !shared_only || p.over_share());
        let oldest = candidates.filter_map(|p| p.oldest_idle().map(|t| (t, p))).min_by_key(|(t, _)| *t);
        oldest.is_some_and(|(_, pool)| pool.evict_oldest())
    }

    /// Parses a `wasm:` URI into its path and limits.
    pub fn parse_uri(uri: &str) -> Result<EndpointUri, WasmError> {
        uri.parse::<EndpointUri>().map_err(|e| WasmError::Load(LoadError::Config(e)))
    }

    /// The largest `max-memory` any endpoint may ask for.
    pub(crate) fn memory_ceiling(&self) -> u64 {
        self.inner.memory_ceiling
    }

    pub(crate) fn engine(&self) -> &Engine {
        &self.inner.engine
    }
}

/// Runs `work` (Cranelift, file reads) so it does not hold up an async worker
/// thread: through `block_in_place` on a multi-threaded tokio runtime, inline
/// elsewhere. Async loads run on a blocking thread instead.
fn off_async_workers<R>(work: impl FnOnce() -> R) -> R {
    match tokio::runtime::Handle::try_current() {
        Ok(handle) if handle.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => tokio::task::block_in_place(work),
        _ => work(),
    }
}
