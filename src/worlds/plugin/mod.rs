//! The `plugin` world: a message processor.

pub(crate) mod service;

use std::sync::Arc;

use wasmtime::Store;
use wasmtime::component::{Component, InstancePre};

use super::{exchange_back, outgoing};
use crate::bindings::{WasmError as GuestError, WasmExchange};
use crate::error::WasmError;
use crate::exchange::Exchange;
use crate::limits::Limits;
use crate::pool::{Pool, World};
use crate::runtime::Runtime;
use crate::store::StoreState;
use service::PluginService;

mod bindings {
    wasmtime::component::bindgen!({
        path: "wit",
        world: "plugin",
        exports: { default: async },
        with: {
            "camel:plugin/types": crate::bindings::types,
            "camel:plugin/host": crate::bindings::host,
        },
    });
}

pub(crate) type Pre = bindings::PluginPre<StoreState>;

/// The `plugin` world as the pool sees it.
pub(crate) struct PluginWorld;

impl PluginWorld {}

impl World for PluginWorld {
    const NAME: &'static str = "plugin";
    type Pre = Pre;
    type Bindings = bindings::Plugin;
    type Request = ();
    type Answer = WasmExchange;

    fn pre(instance_pre: InstancePre<StoreState>) -> wasmtime::Result<Pre> {
        Pre::new(instance_pre)
    }

    fn component(pre: &Pre) -> &Component {
        pre.instance_pre().component()
    }

    async fn instantiate(pre: &Pre, store: &mut Store<StoreState>) -> wasmtime::Result<bindings::Plugin> {
        pre.instantiate_async(store).await
    }

    async fn init(
        bindings: &bindings::Plugin,
        store: &mut Store<StoreState>,
        _config: &[(String, String)],
    ) -> wasmtime::Result<Result<(), String>> {
        bindings.call_init(store).await
    }

    async fn call(
        bindings: &bindings::Plugin,
        store: &mut Store<StoreState>,
        _request: &(),
        exchange: WasmExchange,
    ) -> wasmtime::Result<Result<WasmExchange, GuestError>> {
        store.run_concurrent(async |a| bindings.call_process(a, exchange).await).await?
    }
}

/// A loaded `plugin`-world component: cheap to clone, safe to call from many tasks.
#[derive(Clone)]
pub struct Plugin {
    pool: Arc<Pool<PluginWorld>>,
}

impl std::fmt::Debug for Plugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plugin").field("name", &self.name()).finish_non_exhaustive()
    }
}

impl Plugin {
    /// Loads the plugin at `path` (relative to the runtime's base directory) as a new endpoint.
    ///
    /// The file is compiled once per runtime; each endpoint has its own
    /// instances and its own `host-store` state.
    pub fn load(runtime: &Runtime, path: &str, limits: Limits) -> Result<Self, WasmError> {
        let pool = Pool::<PluginWorld>::open(runtime, path, limits, Vec::new())?;
        Ok(Self { pool })
    }

    /// Loads the endpoint a `wasm:path?knobs` URI names.
    pub fn from_uri(runtime: &Runtime, uri: &str) -> Result<Self, WasmError> {
        let uri = Runtime::parse_uri(uri)?;
        Self::load(runtime, &uri.path, uri.limits)
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

    /// Instances idle in this endpoint's pool.
    pub fn idle_instances(&self) -> usize {
        self.pool.idle_instances()
    }

    /// Calls that can start now without waiting for a slot.
    pub fn available_slots(&self) -> usize {
        self.pool.available_permits()
    }

    /// Runs `exchange` through the guest's `process`, waiting for a call slot first.
    pub async fn process(&self, exchange: Exchange) -> Result<Exchange, WasmError> {
        self.process_with(exchange, None).await
    }

    /// A tower service over this endpoint: `poll_ready` waits for a call slot.
    pub fn service(&self) -> PluginService {
        PluginService::new(self.clone(), self.pool.permits())
    }

    /// Runs `exchange` in the call slot `permit` holds, or waits for one.
    pub(crate) async fn process_with(
        &self,
        exchange: Exchange,
        permit: Option<tokio::sync::OwnedSemaphorePermit>,
    ) -> Result<Exchange, WasmError> {
        let (call, sent) = outgoing(exchange, (), permit);
        let out = self.pool.call(call).await?;
        exchange_back(self.name(), out, sent)
    }

    /// Returned stream bodies of this endpoint still draining (each holds an instance and a call slot).
    pub fn streams_in_flight(&self) -> usize {
        self.pool.streams_in_flight()
    }

    /// This endpoint's health: unhealthy after `unhealthy-after` failed calls in a row.
    pub fn health(&self) -> crate::HealthStatus {
        self.pool.health()
    }

    /// A probe of this endpoint's health that does not keep it alive (`None` once it is gone).
    #[cfg(feature = "rust-camel")]
    pub(crate) fn health_probe(&self) -> impl Fn() -> Option<crate::HealthStatus> + Send + Sync + 'static {
        let pool = Arc::downgrade(&self.pool);
        move || pool.upgrade().map(|pool| pool.health())
    }
}
