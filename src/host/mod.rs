//! The `camel:plugin/host` interface, implemented once for every world.
//!
//! The interface (and the shared `types` it uses) is generated here, privately;
//! each world's bindings reuse it through bindgen's `with:`. State lives in an
//! owned [`HostCtx`] per store, reached through the [`HostView`] trait, and
//! [`add_to_linker`] wires every function in one call.

mod call;
mod properties;
mod state;

pub use call::{CallError, CallKind, CallRequest, Endpoints};
pub use state::{StateBounds, StateStore};


use wasmtime::component::{HasData, Linker};

/// Bindings generated from `wit/` for the shared interfaces only.
pub(crate) mod generated {
    wasmtime::component::bindgen!({
        path: "wit",
        world: "host-imports",
        inline: "
            package camel:host-imports;
            world host-imports {
                import camel:plugin/host@1.0.0;
            }
        ",
    });

    pub use camel::plugin::{host, types};
}

pub(crate) use generated::types::{WasmBody, WasmError, WasmExchange, WasmMessage, WasmPattern};

/// Host-side state of one store: what the host imports read and write.
pub struct HostCtx {
    /// Endpoints a guest may reach with `camel-call` / `camel-poll`.
    pub(crate) endpoints: Endpoints,
    /// The endpoint's `host-store` state, shared by all its instances.
    pub(crate) state: StateStore,
    /// Properties of the exchange being processed (wire form).
    pub(crate) properties: Vec<(String, String)>,
    /// Keys the guest wrote with `set-property` during the current call.
    pub(crate) set_properties: Vec<String>,
}

impl HostCtx {
    /// A context for one store of `plugin`, sharing the endpoint's registry and state.
    pub(crate) fn new(endpoints: Endpoints, state: StateStore) -> Self {
        Self {
            endpoints,
            state,
            properties: Vec::new(),
            set_properties: Vec::new(),
        }
    }

    /// Starts a call: the guest sees `properties` through `get-property`.
    pub(crate) fn begin_call(&mut self, properties: Vec<(String, String)>) {
        self.properties = properties;
        self.set_properties.clear();
    }

    /// Ends a call, handing back what the guest set with `set-property`.
    pub(crate) fn end_call(&mut self) -> Vec<(String, String)> {
        let keys = std::mem::take(&mut self.set_properties);
        let props = std::mem::take(&mut self.properties);
        props.into_iter().filter(|(k, _)| keys.contains(k)).collect()
    }
}

/// Access to a [`HostCtx`] from a store's data.
pub trait HostView: Send + 'static {
    /// The host context of this store.
    fn host(&mut self) -> &mut HostCtx;
}

/// Marker type that projects a store's data onto its [`HostCtx`].
pub(crate) struct HostImports;

impl HasData for HostImports {
    type Data<'a> = &'a mut HostCtx;
}

impl generated::types::Host for HostCtx {}

/// Adds the `camel:plugin/host` and `types` interfaces to `linker`.
pub(crate) fn add_to_linker<T: HostView>(linker: &mut Linker<T>) -> wasmtime::Result<()> {
    generated::types::add_to_linker::<T, HostImports>(linker, |t| t.host())?;
    generated::host::add_to_linker::<T, HostImports>(linker, |t| t.host())?;
    Ok(())
}

/// The synchronous imports, each delegating to its concern's module.
impl generated::host::Host for HostCtx {
    fn get_property(&mut self, key: String) -> Option<String> {
        self.property(&key)
    }

    fn set_property(&mut self, key: String, value: String) {
        HostCtx::set_property(self, key, value)
    }

    fn host_store(&mut self, key: String, value: String) -> Result<(), WasmError> {
        self.state.store(key, value).map_err(|e| WasmError::ProcessorError(e.to_string()))
    }

    fn host_load(&mut self, key: String) -> Result<Option<String>, WasmError> {
        Ok(self.state.load(&key))
    }
}
