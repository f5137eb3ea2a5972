//! The `bean` world: a component with named methods.

use std::sync::{Arc, RwLock, Weak};

use wasmtime::Store;
use wasmtime::component::{Component, InstancePre};

use super::{exchange_back, outgoing};
use crate::bindings::{WasmError as GuestError, WasmExchange};
use crate::error::WasmError;
use crate::exchange::Exchange;
use crate::limits::Limits;
use crate::pool::{Pool, World};
use crate::runtime::reload::{BoxFuture, Commit, Reloadable};
use crate::runtime::{Compiled, Runtime};
use crate::store::StoreState;

mod bindings {
    wasmtime::component::bindgen!({
        path: "wit",
        world: "bean",
        exports: { default: async },
        with: {
            "camel:plugin/types": crate::bindings::types,
            "camel:plugin/host": crate::bindings::host,
        },
    });
}

pub(crate) type Pre = bindings::BeanPre<StoreState>;

/// The `bean` world as the pool sees it.
pub(crate) struct BeanWorld;

impl BeanWorld {}

impl World for BeanWorld {
    const NAME: &'static str = "bean";
    type Pre = Pre;
    type Bindings = bindings::Bean;
    type Request = Arc<str>;
    type Answer = WasmExchange;

    fn pre(instance_pre: InstancePre<StoreState>) -> wasmtime::Result<Pre> {
        Pre::new(instance_pre)
    }

    fn component(pre: &Pre) -> &Component {
        pre.instance_pre().component()
    }

    async fn instantiate(pre: &Pre, store: &mut Store<StoreState>) -> wasmtime::Result<bindings::Bean> {
        pre.instantiate_async(store).await
    }

    async fn init(
        bindings: &bindings::Bean,
        store: &mut Store<StoreState>,
        config: &[(String, String)],
    ) -> wasmtime::Result<Result<(), String>> {
        bindings.call_init(store, config).await
    }

    async fn call(
        bindings: &bindings::Bean,
        store: &mut Store<StoreState>,
        method: &Arc<str>,
        exchange: WasmExchange,
    ) -> wasmtime::Result<Result<WasmExchange, GuestError>> {
        let method = method.to_string();
        store.run_concurrent(async |a| bindings.call_invoke(a, method, exchange).await).await?
    }
}

/// A loaded `bean`-world component and its method list.
#[derive(Clone)]
pub struct Bean {
    pool: Arc<Pool<BeanWorld>>,
    methods: Arc<Methods>,
}

/// A bean's method list, re-read from each new version a hot reload brings.
struct Methods {
    pool: Arc<Pool<BeanWorld>>,
    list: RwLock<MethodList>,
}

/// The method names, as given out and as shared names for calls.
struct MethodList {
    names: Arc<[String]>,
    shared: Box<[Arc<str>]>,
}

impl From<Vec<String>> for MethodList {
    fn from(names: Vec<String>) -> Self {
        let shared = names.iter().map(|n| Arc::from(n.as_str())).collect();
        Self { names: names.into(), shared }
    }
}

impl Reloadable for Methods {
    fn prepare<'a>(&'a self, runtime: &'a Runtime, compiled: &'a Arc<Compiled>) -> BoxFuture<'a, Result<Commit<'a>, WasmError>> {
        Box::pin(async move {
            let pre = crate::pool::pre::<BeanWorld>(runtime, compiled)?;
            let methods =
                self.pool.with_fresh_instance_of(&pre, async |bindings, store| bindings.call_methods(store).await).await?;
            Ok(Box::new(move || {
                self.pool.swap(pre);
                *self.list.write().unwrap() = MethodList::from(methods);
            }) as Commit<'a>)
        })
    }
}

impl std::fmt::Debug for Bean {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bean").field("name", &self.name()).field("methods", &self.methods()).finish_non_exhaustive()
    }
}

impl Bean {
    /// Loads the bean at `path` as a new endpoint whose instances get `config` in `init`.
    ///
    /// Loading asks the guest for its `methods()` once (and a hot reload again).
    pub async fn load(runtime: &Runtime, path: &str, limits: Limits, config: Vec<(String, String)>) -> Result<Self, WasmError> {
        let pool = Pool::<BeanWorld>::open_async(runtime, path, limits, config).await?;
        let methods = pool.with_fresh_instance(async |bindings, store| bindings.call_methods(store).await).await?;
        let methods = Arc::new(Methods { pool: pool.clone(), list: RwLock::new(MethodList::from(methods)) });
        runtime.track_reload_instead(&pool, Arc::downgrade(&methods) as Weak<dyn Reloadable>);
        Ok(Self { pool, methods })
    }

    /// The plugin's name (its path).
    pub fn name(&self) -> &str {
        self.pool.plugin()
    }

    /// This endpoint's limits.
    pub fn limits(&self) -> &Limits {
        self.pool.limits()
    }

    /// The methods the bean exports (those of the version a hot reload last brought).
    pub fn methods(&self) -> Arc<[String]> {
        self.methods.list.read().unwrap().names.clone()
    }

    /// This endpoint's `host-store` state.
    pub fn state(&self) -> &crate::SharedState {
        self.pool.state()
    }

    /// Invokes `method` on `exchange`; an unknown method fails without calling the guest.
    pub async fn invoke(&self, method: &str, exchange: Exchange) -> Result<Exchange, WasmError> {
        let found = {
            let list = self.methods.list.read().unwrap();
            match list.shared.iter().find(|m| ***m == *method) {
                Some(found) => found.clone(),
                None => {
                    return Err(WasmError::UnknownMethod {
                        plugin: self.name().to_string(),
                        method: method.to_string(),
                        available: list.names.to_vec(),
                    });
                }
            }
        };
        let (call, sent) = outgoing(exchange, found, None);
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
}
