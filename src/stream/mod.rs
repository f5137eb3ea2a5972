//! Stream bodies across the boundary, both ways, without holding them whole.
//!
//! - [`to_guest`]: a host [`StreamBody`] becomes the guest's `stream<u8>`,
//!   copied straight into the guest's read buffer; its end or error reaches
//!   the guest through the `terminal` future.
//! - [`from_guest`]: a `stream` body the guest returns is drained by a task
//!   that owns the instance until the stream ends, through a bounded channel
//!   (back-pressure), with cancel-on-drop and a no-progress watchdog.
//!
//! Both directions count bytes against `max-stream-bytes` and watch
//! `stream-idle-timeout`.

pub(crate) mod from_guest;
pub(crate) mod to_guest;

use std::sync::Arc;
use std::time::Duration;

use crate::bindings::WasmExchange;
use crate::exchange::{Body, Exchange, StreamBody};
use crate::limits::Limits;

/// Most bytes moved in one chunk from a guest to the host.
pub(crate) const MAX_CHUNK: usize = 256 * 1024;
/// Chunks in flight between a draining guest and the body's reader.
pub(crate) const CHANNEL_CHUNKS: usize = 4;

/// Which message of an exchange carries a stream body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Slot {
    /// The input message.
    Input,
    /// The output message.
    Output,
}

/// What bounds one stream: its plugin, byte limit and idle timeout.
#[derive(Clone)]
pub(crate) struct StreamBounds {
    pub(crate) plugin: Arc<str>,
    pub(crate) max_bytes: u64,
    pub(crate) idle_timeout: Duration,
    /// Counts the bytes moved (`camel_wasm_stream_bytes_total`).
    pub(crate) moved: metrics::Counter,
}

impl StreamBounds {
    /// The bounds `limits` set for `plugin`'s streams.
    pub(crate) fn new(plugin: Arc<str>, limits: &Limits) -> Self {
        let moved = metrics::Counter::noop();
        Self { plugin, max_bytes: limits.max_stream_bytes, idle_timeout: limits.stream_idle_timeout, moved }
    }

    /// The same bounds, counting bytes moved in `moved`.
    pub(crate) fn counting(mut self, moved: metrics::Counter) -> Self {
        self.moved = moved;
        self
    }
}

impl std::fmt::Debug for StreamBounds {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamBounds").field("plugin", &self.plugin).field("max_bytes", &self.max_bytes).finish_non_exhaustive()
    }
}

/// The stream bodies of an exchange on its way to a guest, taken out of it.
#[derive(Debug, Default)]
pub(crate) struct Streams {
    bodies: Vec<(Slot, StreamBody)>,
}

impl Streams {
    /// Takes the stream bodies out of `exchange`, leaving empty bodies.
    pub(crate) fn take_from(exchange: &mut Exchange) -> Self {
        let mut bodies = Vec::new();
        let messages = [(Slot::Input, Some(&mut exchange.input)), (Slot::Output, exchange.output.as_mut())];
        for (slot, message) in messages {
            if let Some(message) = message
                && let Body::Stream(_) = message.body
                && let Body::Stream(stream) = std::mem::take(&mut message.body)
            {
                bodies.push((slot, stream));
            }
        }
        Self { bodies }
    }

    /// Whether there are none.
    pub(crate) fn is_empty(&self) -> bool {
        self.bodies.is_empty()
    }
}

/// A stream body the guest returned, now draining, and where it goes.
pub(crate) struct Returned {
    pub(crate) slot: Slot,
    pub(crate) body: StreamBody,
}

impl Returned {
    /// Puts the body back into the exchange the guest returned.
    pub(crate) fn put_into(self, exchange: &mut Exchange) {
        let message = match self.slot {
            Slot::Input => &mut exchange.input,
            Slot::Output => exchange.output.get_or_insert_with(Default::default),
        };
        message.body = Body::Stream(self.body);
    }
}

/// The message of `exchange` in `slot`.
pub(crate) fn message_mut(exchange: &mut WasmExchange, slot: Slot) -> Option<&mut crate::bindings::WasmMessage> {
    match slot {
        Slot::Input => Some(&mut exchange.input),
        Slot::Output => exchange.output.as_mut(),
    }
}
