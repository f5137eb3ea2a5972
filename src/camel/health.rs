//! A health check per `wasm:` endpoint: healthy once its plugin loaded,
//! unhealthy with the cause when loading failed. For a source (a route's
//! `from: wasm:…`): healthy while its route runs it, unhealthy with the
//! guest's error for [`SOURCE_FAILURE_WINDOW`] after its `run` failed (a trap,
//! say; the source restarts it), unhealthy once stopped.
//!
//! rust-camel's own wasm component registers a check that always reports
//! "WASM engine module not loaded"; this one reports what actually happened.

use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use camel_api::{AsyncHealthCheck, CheckResult};

/// How long a source reports unhealthy after its guest failed: about three
/// restarts at the source's longest back-off, twice the run a restart must
/// last to count as healthy again.
pub const SOURCE_FAILURE_WINDOW: Duration = Duration::from_secs(30);

/// Where loading an endpoint's plugin stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoadState {
    /// Not loaded yet (for a source: its route has not started it yet).
    Loading,
    /// Compiled and checked against its world; calls can be made.
    Loaded,
    /// Loading failed (for a source: starting it failed), for `cause`.
    Failed {
        /// The load error, as text.
        cause: String,
    },
    /// A source its route started: its listener is bound and its guest runs.
    Running,
    /// A source its route stopped: nothing listens.
    Stopped,
}

/// A failure of a running source's guest.
#[derive(Debug, Clone)]
struct SourceFailure {
    restarts: u64,
    error: String,
    at: Instant,
}

#[derive(Debug, Default)]
struct SourceStatus {
    failure: Option<SourceFailure>,
    addr: Option<SocketAddr>,
}

/// The health of one `wasm:` endpoint, named after it (`wasm:upper.wasm`).
///
/// Cheap to clone; clones share the state, so the component can update a
/// check that is already registered with a route.
#[derive(Debug, Clone)]
pub struct WasmHealthCheck {
    name: String,
    state: Arc<RwLock<LoadState>>,
    source: Arc<RwLock<SourceStatus>>,
    /// The loaded plugin's health, whose calls make it unhealthy after `unhealthy-after` failures in a row.
    plugin: Arc<RwLock<Option<Probe>>>,
}

/// A probe of a plugin's health that does not keep the plugin alive.
struct Probe(Box<dyn Fn() -> Option<crate::HealthStatus> + Send + Sync>);

impl std::fmt::Debug for Probe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Probe")
    }
}

impl WasmHealthCheck {
    /// A check for `name` in state `state`.
    pub fn new(name: impl Into<String>, state: LoadState) -> Self {
        Self { name: name.into(), state: Arc::new(RwLock::new(state)), source: Arc::default(), plugin: Arc::default() }
    }

    /// The state now.
    pub fn state(&self) -> LoadState {
        self.state.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Records a new state.
    pub fn set_state(&self, state: LoadState) {
        *self.state.write().unwrap_or_else(|e| e.into_inner()) = state;
    }

    /// Reports `plugin`'s call health while loaded.
    pub(crate) fn follow(&self, plugin: &crate::Plugin) {
        *self.plugin.write().unwrap_or_else(|e| e.into_inner()) = Some(Probe(Box::new(plugin.health_probe())));
    }

    /// The address a running source listens on (the real port when its bind asked for port 0).
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.source.read().unwrap_or_else(|e| e.into_inner()).addr
    }

    /// The last failure of a running source's guest, if it failed since its
    /// route started it: how many times it was restarted then, and why it failed.
    pub fn source_failure(&self) -> Option<(u64, String)> {
        let status = self.source.read().unwrap_or_else(|e| e.into_inner());
        status.failure.as_ref().map(|f| (f.restarts, f.error.clone()))
    }

    /// A source started, listening on `addr`: running, no failure yet.
    pub(crate) fn source_started(&self, addr: SocketAddr) {
        *self.source.write().unwrap_or_else(|e| e.into_inner()) = SourceStatus { failure: None, addr: Some(addr) };
        self.set_state(LoadState::Running);
    }

    /// A running source's guest failed (now), for `error`; it was restarted `restarts` times so far.
    pub(crate) fn source_failed(&self, restarts: u64, error: String) {
        let mut status = self.source.write().unwrap_or_else(|e| e.into_inner());
        status.failure = Some(SourceFailure { restarts, error, at: Instant::now() });
    }

    /// A source stopped.
    pub(crate) fn source_stopped(&self) {
        self.source.write().unwrap_or_else(|e| e.into_inner()).addr = None;
        self.set_state(LoadState::Stopped);
    }

    /// The check's result now, without awaiting.
    pub fn result(&self) -> CheckResult {
        match self.state() {
            LoadState::Loaded => {
                match self.plugin.read().unwrap_or_else(|e| e.into_inner()).as_ref().and_then(|probe| (probe.0)()) {
                    Some(crate::HealthStatus::Unhealthy { consecutive_failures, last_error }) => {
                        let message = format!("{consecutive_failures} calls in a row failed; the last: {last_error}");
                        CheckResult::unhealthy(&self.name, &message)
                    }
                    _ => CheckResult::healthy(&self.name),
                }
            }
            LoadState::Loading => CheckResult::unhealthy(&self.name, "plugin not loaded yet"),
            LoadState::Failed { cause } => CheckResult::unhealthy(&self.name, &cause),
            LoadState::Running => {
                let status = self.source.read().unwrap_or_else(|e| e.into_inner());
                match &status.failure {
                    Some(f) if f.at.elapsed() < SOURCE_FAILURE_WINDOW => {
                        let message = format!("the source's guest failed (restarted {} times so far): {}", f.restarts, f.error);
                        CheckResult::unhealthy(&self.name, &message)
                    }
                    _ => CheckResult::healthy(&self.name),
                }
            }
            LoadState::Stopped => CheckResult::unhealthy(&self.name, "the source is stopped: nothing listens"),
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
