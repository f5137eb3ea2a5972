//! [`RuntimeBuilder`]: the engine (pooling allocator or on demand), the linker, the caches, the epoch ticker.

use super::disk_cache::{Bounds, DiskCache};
use super::{COMPONENT_PARTS_CEILING, Counters, DEFAULT_IDLE_TIMEOUT, Inner, Runtime, TABLE_ELEMENTS_CEILING, epoch, reload};
use crate::error::WasmError;
use crate::host::{self, Endpoints};
use crate::state::{StateBackend, StateStores};
use crate::store::StoreState;
use crate::store::slots::{Parts, Slots};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use wasmtime::component::Linker;
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

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

/// The store's limiter under this builder's engines, pooled and not.
#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Instant;

    use super::*;
    use crate::host::{CallAllowlist, Endpoints, HostCtx};
    use crate::limits::Limits;
    use crate::state::MemoryStore;
    use crate::store::limiter::TABLE_ELEMENT_BYTES;
    use crate::store::{GuestLimiter, new_store};
    use wasmtime::component::{Component, Linker};

    /// A component of `instances` core instances, each with its own 1 MiB memory and a 100-element table.
    fn many_memories(instances: usize) -> Vec<u8> {
        let mut wat = String::from("(component (core module $m (memory 16) (table 100 funcref))");
        for i in 0..instances {
            wat.push_str(&format!(" (core instance $i{i} (instantiate $m))"));
        }
        wat.push(')');
        wat::parse_str(&wat).unwrap()
    }

    async fn instantiate(pooling: bool, instances: usize, limits: &Limits) -> (wasmtime::Result<()>, GuestLimiter) {
        let runtime = Runtime::builder().pooling(pooling).memory_ceiling(64 << 20).build().unwrap();
        assert_eq!(runtime.uses_pooling(), pooling);
        let engine = runtime.engine();
        let component = Component::new(engine, many_memories(instances)).unwrap();
        let host = HostCtx::new(
            Endpoints::new(),
            Arc::new(CallAllowlist::none()),
            true,
            Arc::new(MemoryStore::new("t.wasm", Default::default(), None)),
            Default::default(),
        );
        let mut store = new_store(engine, StoreState::new(host, GuestLimiter::new(limits)));
        store.data_mut().arm(Instant::now() + std::time::Duration::from_secs(10));
        let linker = Linker::<StoreState>::new(engine);
        let outcome = linker.instantiate_async(&mut store, &component).await.map(drop);
        let state = store.into_data();
        (outcome, state.memory)
    }

    #[tokio::test]
    async fn max_memory_covers_every_memory_and_table_of_the_guest() {
        for pooling in [false, true] {
            let limits = Limits { max_memory: 4 << 20, ..Limits::default() };
            // Each 1 MiB memory is under the limit; eight of them are not.
            let (outcome, limiter) = instantiate(pooling, 8, &limits).await;
            assert!(outcome.is_err(), "pooling={pooling}: eight 1 MiB memories exceed 4 MiB");
            assert!(limiter.refused, "pooling={pooling}: reported as out of memory");
            let (outcome, limiter) = instantiate(pooling, 3, &limits).await;
            outcome.unwrap();
            assert!(!limiter.refused);
            assert_eq!(limiter.used_bytes(), 3 * ((1 << 20) + 100 * TABLE_ELEMENT_BYTES), "pooling={pooling}");
        }
    }

    #[tokio::test]
    async fn instance_table_and_element_counts_are_bounded() {
        for pooling in [false, true] {
            let few = Limits { max_instances: 4, ..Limits::default() };
            let (outcome, _) = instantiate(pooling, 6, &few).await;
            let err = outcome.unwrap_err();
            assert!(format!("{err:#}").contains("instance"), "pooling={pooling}: {err:#}");
            let tables = Limits { max_tables: 2, ..Limits::default() };
            assert!(instantiate(pooling, 3, &tables).await.0.is_err(), "pooling={pooling}");
            let elements = Limits { max_table_elements: 250, ..Limits::default() };
            let (outcome, limiter) = instantiate(pooling, 3, &elements).await;
            assert!(outcome.is_err() && limiter.refused, "pooling={pooling}");
            instantiate(pooling, 2, &elements).await.0.unwrap();
        }
    }
}
