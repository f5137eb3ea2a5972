//! An endpoint's health: unhealthy after `unhealthy-after` failed calls in a
//! row, healthy again after one success.
//!
//! A failed call is one the host ended: a timeout, trap, panic, out of
//! memory, failed `init`, a limit or a runtime failure. A guest answering
//! with its own error (`wasm-error`) is an answer, not a failure.

use std::sync::Mutex;

use crate::error::WasmError;

/// What an endpoint's health check reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HealthStatus {
    /// Serving: fewer than `unhealthy-after` failures in a row.
    Healthy,
    /// At least `unhealthy-after` calls in a row failed.
    Unhealthy {
        /// Failed calls in a row.
        consecutive_failures: u32,
        /// The last failure.
        last_error: String,
    },
}

/// Counts an endpoint's failures in a row.
pub(crate) struct Health {
    threshold: u32,
    state: Mutex<(u32, Option<String>)>,
}

impl Health {
    pub(crate) fn new(threshold: u32) -> Self {
        Self { threshold: threshold.max(1), state: Mutex::default() }
    }

    /// Records a call's outcome.
    pub(crate) fn record(&self, error: Option<&WasmError>) {
        let failed = error.filter(|e| !matches!(e, WasmError::Guest { .. } | WasmError::UnknownMethod { .. }));
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        match failed {
            None if state.0 == 0 => {}
            None => *state = (0, None),
            Some(error) => *state = (state.0.saturating_add(1), Some(error.to_string())),
        }
    }

    /// The status now.
    pub(crate) fn status(&self) -> HealthStatus {
        let state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        match &state.1 {
            Some(last_error) if state.0 >= self.threshold => {
                HealthStatus::Unhealthy { consecutive_failures: state.0, last_error: last_error.clone() }
            }
            _ => HealthStatus::Healthy,
        }
    }
}
