//! One module per world: its private `bindgen!` and a typed handle.
//!
//! Each world's bindings reuse the shared `types` and `host` interfaces
//! generated in [`crate::host`], so only the world's exports are generated here.

pub(crate) mod bean;
pub(crate) mod plugin;
pub(crate) mod policy;

use crate::error::{GuestError, WasmError};
use crate::exchange::{Exchange, wire};
use crate::host::{self, WasmExchange};

/// The guest's `wasm-error` as the typed error of `plugin`.
pub(crate) fn guest_error(plugin: &str, error: host::WasmError) -> WasmError {
    let error = match error {
        host::WasmError::ProcessorError(m) => GuestError::Processor(m),
        host::WasmError::TypeConversion(m) => GuestError::TypeConversion(m),
        host::WasmError::Io(m) => GuestError::Io(m),
        host::WasmError::Timeout => GuestError::Timeout,
    };
    WasmError::Guest { plugin: plugin.to_string(), error }
}

/// The exchange a guest returned, mapped back against the one sent.
pub(crate) fn exchange_back(
    plugin: &str,
    returned: WasmExchange,
    sent: &Exchange,
    set: Vec<(String, String)>,
) -> Result<Exchange, WasmError> {
    wire::from_wire(returned, sent, set)
        .map_err(|e| WasmError::InvalidOutput { plugin: plugin.to_string(), reason: e.to_string() })
}
