//! A health check per `wasm:` endpoint: healthy once its plugin loaded,
//! unhealthy with the cause when loading failed.
//!
//! rust-camel's own wasm component registers a check that always reports
//! "WASM engine module not loaded"; this one reports what actually happened.

use std::sync::{Arc, RwLock};

use async_trait::async_trait;
use camel_api::{AsyncHealthCheck, CheckResult};

/// Where loading an endpoint's plugin stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoadState {
    /// Not loaded yet.
    Loading,
    /// Compiled and checked against its world; calls can be made.
    Loaded,
    /// Loading failed, for `cause`.
    Failed {
        /// The load error, as text.
        cause: String,
    },
}

/// The health of one `wasm:` endpoint, named after it (`wasm:upper.wasm`).
///
/// Cheap to clone; clones share the state, so the component can update a
/// check that is already registered with a route.
#[derive(Debug, Clone)]
pub struct WasmHealthCheck {
    name: String,
    state: Arc<RwLock<LoadState>>,
}

impl WasmHealthCheck {
    /// A check for `name` in state `state`.
    pub fn new(name: impl Into<String>, state: LoadState) -> Self {
        Self { name: name.into(), state: Arc::new(RwLock::new(state)) }
    }

    /// The state now.
    pub fn state(&self) -> LoadState {
        self.state.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Records a new state.
    pub fn set_state(&self, state: LoadState) {
        *self.state.write().unwrap_or_else(|e| e.into_inner()) = state;
    }

    /// The check's result now, without awaiting.
    pub fn result(&self) -> CheckResult {
        match self.state() {
            LoadState::Loaded => CheckResult::healthy(&self.name),
            LoadState::Loading => CheckResult::unhealthy(&self.name, "plugin not loaded yet"),
            LoadState::Failed { cause } => CheckResult::unhealthy(&self.name, &cause),
        }
    }
}

#[async_trait]
impl AsyncHealthCheck for WasmHealthCheck {
    fn name(&self) -> &str {
        &self.name
    }

    async fn check(&self) -> CheckResult {
        self.result()
    }
}
