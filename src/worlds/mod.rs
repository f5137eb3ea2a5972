//! One module per world: its private `bindgen!` and a typed handle.
//!
//! Each world's bindings reuse the shared `types` and `host` interfaces
//! generated in [`crate::bindings`], so only the world's exports are generated here.

pub(crate) mod bean;
pub(crate) mod inspect;
pub(crate) mod language;
pub(crate) mod plugin;
pub(crate) mod policy;
pub(crate) mod source;

use tokio::sync::OwnedSemaphorePermit;

use crate::bindings::WasmExchange;
use crate::error::WasmError;
use crate::exchange::{Exchange, wire};
use crate::pool::{Call, CallOutput};
use crate::stream::Streams;

/// `exchange` on its way to a guest: the call that carries it, and what taking the answer back needs.
pub(crate) fn outgoing<R>(mut exchange: Exchange, request: R, permit: Option<OwnedSemaphorePermit>) -> (Call<R>, wire::Sent) {
    let streams = Streams::take_from(&mut exchange);
    let (wire, sent) = wire::to_wire(exchange);
    let properties = sent.properties.clone();
    (Call { request, exchange: wire, properties, streams, permit }, sent)
}

/// The exchange a call gave back, mapped against what was kept of the one sent:
/// the guest's error typed, and a returned stream body put where the guest put it.
pub(crate) fn exchange_back(plugin: &str, out: CallOutput<WasmExchange>, sent: wire::Sent) -> Result<Exchange, WasmError> {
    let returned = out.output.map_err(|e| WasmError::from_guest(plugin, e))?;
    let mut back = wire::from_wire(returned, sent, out.set)
        .map_err(|e| WasmError::InvalidOutput { plugin: plugin.to_string(), reason: e.to_string() })?;
    if let Some(stream) = out.returned {
        stream.put_into(&mut back);
    }
    Ok(back)
}
