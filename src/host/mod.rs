//! The `camel:plugin/host` interface, implemented once for every world.
//!
//! The interface (and the shared `types` it uses) is generated in [`crate::bindings`];
//! each world's bindings reuse it through bindgen's `with:`. State lives in an
//! owned [`HostCtx`] per store, reached through the [`HostView`] trait, and
//! [`add_to_linker`] wires every function in one call.

mod allowlist;
mod call;
mod properties;

use std::sync::Arc;
use std::time::Instant;

pub use allowlist::CallAllowlist;
pub use call::{CallError, CallKind, CallRequest, Endpoints, GuestCallGuard};
pub(crate) use call::{guest_scope, in_guest_call};
pub(crate) use properties::PropertyScope;
pub use properties::{PropertyBounds, PropertyError};

use wasmtime::component::{HasData, Linker};

use crate::state::{SharedState, StateError};

use crate::bindings as generated;
use crate::bindings::WasmError;

/// Host-side state of one store: what the host imports read and write.
pub struct HostCtx {
    /// Endpoints a guest may reach with `camel-call` / `camel-poll`.
    pub(crate) endpoints: Endpoints,
    /// Which of them this endpoint's guest may reach (`allow-call`).
    pub(crate) allowlist: Arc<CallAllowlist>,
    /// Whether the world may call at all (authorization policies may not).
    pub(crate) may_call: bool,
    /// The endpoint's `host-store` state, shared by all its instances.
    pub(crate) state: SharedState,
    /// When the current call must end: state operations end by then too.
    pub(crate) deadline: Instant,
    /// Properties of the exchange being processed, and the bounded set the guest wrote.
    pub(crate) properties: PropertyScope,
    /// Counts calls out `allow-call` denied (`camel_wasm_errors_total{kind="denied"}`).
    pub(crate) denied: ::metrics::Counter,
}

impl HostCtx {
    /// A context for one store, sharing the endpoint's registry, allowlist and state;
    /// `may_call` is false for worlds that may never call (authorization policies).
    pub(crate) fn new(
        endpoints: Endpoints,
        allowlist: Arc<CallAllowlist>,
        may_call: bool,
        state: SharedState,
        bounds: PropertyBounds,
    ) -> Self {
        let properties = PropertyScope::new(bounds);
        Self { endpoints, allowlist, may_call, state, deadline: Instant::now(), properties, denied: ::metrics::Counter::noop() }
    }

    /// Starts a call: the guest sees `properties` through `get-property`.
    pub(crate) fn begin_call(&mut self, properties: crate::exchange::wire::SentProperties) {
        self.properties.begin(properties);
    }

    /// Ends a call, handing back what the guest set with `set-property`.
    pub(crate) fn end_call(&mut self) -> Vec<(String, String)> {
        self.properties.end()
    }

    /// The check of a guest's call to `uri`: denied unless the world may call and `allow-call` covers it.
    pub(crate) fn check_call(&self, uri: &str) -> Result<(), CallError> {
        if self.may_call && self.allowlist.allows(uri) {
            return Ok(());
        }
        self.denied.increment(1);
        let scheme = uri.split_once(':').map_or(uri, |(s, _)| s).to_string();
        Err(CallError::Denied { scheme, uri: uri.to_string(), policy: !self.may_call })
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
    generated::counters::add_to_linker::<T, HostImports>(linker, |t| t.host())?;
    Ok(())
}

/// The synchronous imports, each delegating to its concern's module.
impl generated::host::Host for HostCtx {
    fn get_property(&mut self, key: String) -> Option<String> {
        self.properties.get(&key)
    }

    fn set_property(&mut self, key: String, value: String) -> wasmtime::Result<()> {
        Ok(self.properties.set(key, value)?)
    }

    async fn host_store(&mut self, key: String, value: String) -> Result<(), WasmError> {
        self.state.store(&key, &value, self.deadline).await.map_err(state_error)
    }

    async fn host_load(&mut self, key: String) -> Result<Option<String>, WasmError> {
        self.state.load(&key, self.deadline).await.map_err(state_error)
    }
}

/// `camel:state/counters@1.0.0`: atomic increments on the endpoint's state.
impl generated::counters::Host for HostCtx {
    async fn increment(&mut self, key: String, delta: i64) -> Result<i64, String> {
        self.state.increment(&key, delta, self.deadline).await.map_err(|e| e.to_string())
    }
}

/// A state failure as the guest sees it: a refused write is `processor-error`
/// (as before), a failing store is `io`, naming the store and the endpoint.
fn state_error(error: StateError) -> WasmError {
    if error.is_io() { WasmError::Io(error.to_string()) } else { WasmError::ProcessorError(error.to_string()) }
}
