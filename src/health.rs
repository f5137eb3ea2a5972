//! An endpoint's health: unhealthy after `unhealthy-after` failed calls in a
//! row, healthy again after one success.
//!
//! A failed call is one the host ended: a timeout, trap, panic, out of
//! memory, failed `init`, a limit or a runtime failure. A guest answering
//! with its own error (`wasm-error`) is an answer, not a failure.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};

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
    /// Failures in a row: read on every call without a lock.
    failures: AtomicU32,
    last_error: Mutex<Option<String>>,
}

impl Health {
    pub(crate) fn new(threshold: u32) -> Self {
        Self { threshold: threshold.max(1), failures: AtomicU32::new(0), last_error: Mutex::default() }
    }

    /// Records a call's outcome.
    pub(crate) fn record(&self, error: Option<&WasmError>) {
        match error.filter(|e| !matches!(e, WasmError::Guest { .. } | WasmError::UnknownMethod { .. })) {
            None => {
                if self.failures.load(Ordering::Relaxed) != 0 {
                    self.failures.store(0, Ordering::Relaxed);
                }
            }
            Some(error) => {
                *self.last_error.lock().unwrap_or_else(|p| p.into_inner()) = Some(error.to_string());
                self.failures.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// The status now.
    pub(crate) fn status(&self) -> HealthStatus {
        let failures = self.failures.load(Ordering::Relaxed);
        if failures < self.threshold {
            return HealthStatus::Healthy;
        }
        let last_error = self.last_error.lock().unwrap_or_else(|p| p.into_inner()).clone().unwrap_or_default();
        HealthStatus::Unhealthy { consecutive_failures: failures, last_error }
    }
}
