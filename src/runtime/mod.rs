//! The runtime: one engine, one linker, compiled components shared by every endpoint.

mod builder;
mod compile;
mod disk_cache;
mod epoch;
mod evict;
mod load;
pub(crate) mod reload;

use std::any::Any;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use wasmtime::Engine;
use wasmtime::component::{Component, Linker};

use crate::error::{LoadError, WasmError};
use crate::host::Endpoints;
use crate::limits::{EndpointUri, Limits};
use crate::state::{SharedState, StateBackend, StateStores};
use crate::store::StoreState;
use crate::store::slots::Slots;
use disk_cache::DiskCache;

pub use builder::RuntimeBuilder;
pub(crate) use evict::{DEFAULT_IDLE_TIMEOUT, IdleInstances};
pub use reload::{ReloadOutcome, ReloadStats, ReloadWatcher};

/// The most core instances, memories or tables one guest may have (`max-instances`, `max-tables`).
pub(crate) const COMPONENT_PARTS_CEILING: u32 = 64;
/// The most elements one table may have (`max-table-elements`, per table in the pooling allocator).
pub(crate) const TABLE_ELEMENTS_CEILING: u64 = 100_000;

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
