//! Trap classification, shared by the pool and the source supervisor: a wasmtime
//! error, read against the store's state, as the typed [`WasmError`] it stands for.

use wasmtime::{PoolConcurrencyLimitError, Trap};

use super::output::{self, panic_message};
use super::slots::Exhausted;
use super::{MAX_LIVE_HANDLES, StoreState};
use crate::error::{TrapReason, WasmError};
use crate::limits::Limits;

/// The typed result of guest work run under the deadline: a trap is
/// classified from the store's state, an elapsed deadline is a timeout;
/// then the guest's captured output is forwarded to the log.
pub(crate) fn settle<T>(
    plugin: &str,
    limits: &Limits,
    outcome: Result<wasmtime::Result<T>, tokio::time::error::Elapsed>,
    state: &StoreState,
) -> Result<T, WasmError> {
    let settled = match outcome {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(err)) => Err(classify(plugin, limits, err, state)),
        Err(_elapsed) => Err(timeout(plugin, limits)),
    };
    // After classifying, which reads a panic message from stderr.
    output::forward(plugin, &state.stdout, &state.stderr);
    settled
}

/// The timeout error of `plugin` under `limits`.
pub(crate) fn timeout(plugin: &str, limits: &Limits) -> WasmError {
    WasmError::Timeout { plugin: plugin.to_string(), timeout: limits.timeout }
}

/// Turns a wasmtime error into the typed error it stands for.
pub(crate) fn classify(plugin: &str, limits: &Limits, err: wasmtime::Error, state: &StoreState) -> WasmError {
    let plugin = plugin.to_string();
    let trap = err.downcast_ref::<Trap>().copied();
    if let Some(full) = err.downcast_ref::<Exhausted>() {
        return WasmError::NoInstanceSlot { plugin, reason: full.0.clone() };
    }
    if err.is::<PoolConcurrencyLimitError>() {
        return WasmError::NoInstanceSlot { plugin, reason: format!("{err:#}") };
    }
    let said = |what: &str| err.chain().any(|e| e.to_string().contains(what));
    if said("fuel allocated for hostcalls") {
        let max = limits.max_memory;
        let reason = format!("it handed the host more than {max} bytes in one host call or return");
        return WasmError::LimitExceeded { plugin, knob: "max-memory", max, reason };
    }
    if said("store handle limit exceeded") || said("resource table has no free keys") {
        let reason = format!("more than {MAX_LIVE_HANDLES} live handles (WASI resources) at once");
        return WasmError::Trap { plugin, reason: TrapReason::Other(reason) };
    }
    if state.timed_out || trap == Some(Trap::Interrupt) {
        return timeout(&plugin, limits);
    }
    if let Some(exceeded) = &state.host.properties.exceeded {
        return WasmError::LimitExceeded { plugin, knob: exceeded.knob(), max: exceeded.max(), reason: exceeded.to_string() };
    }
    if state.memory.refused {
        return WasmError::OutOfMemory { plugin, max_memory_bytes: limits.max_memory };
    }
    let reason = match trap {
        Some(Trap::UnreachableCodeReached) => {
            if let Some(message) = panic_message(&state.stderr.text()) {
                return WasmError::GuestPanic { plugin, message };
            }
            TrapReason::Unreachable
        }
        Some(Trap::StackOverflow) => TrapReason::StackOverflow,
        Some(Trap::MemoryOutOfBounds | Trap::TableOutOfBounds | Trap::HeapMisaligned) => TrapReason::OutOfBounds,
        Some(other) => TrapReason::Other(other.to_string()),
        None => return WasmError::Runtime { plugin, message: format!("{err:#}") },
    };
    WasmError::Trap { plugin, reason }
}
