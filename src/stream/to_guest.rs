//! Host → guest: a [`StreamBody`] read by the guest through `stream<u8>`.
//!
//! [`GuestFeed`] pulls a chunk from the host stream only when the guest reads,
//! and copies it straight into the guest's buffer: at most one chunk is held.
//! The stream's end, its error, `max-stream-bytes` and `stream-idle-timeout`
//! all reach the guest through the `terminal` future, after the bytes before them.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Buf, Bytes};
use futures_util::StreamExt;
use tokio::sync::oneshot;
use tokio::time::{Instant, Sleep};
use wasmtime::component::{Destination, FutureReader, StreamProducer, StreamReader, StreamResult, VecBuffer};
use wasmtime::{AsContextMut, Store, StoreContextMut};

use super::{StreamBounds, Streams, message_mut};
use crate::bindings::{StreamBodyHandle, WasmBody, WasmError, WasmExchange};
use crate::exchange::{ByteStream, StreamBody, StreamError};
use crate::store::StoreState;

/// The terminal outcome handed to the guest's `terminal` future.
type Terminal = Result<(), WasmError>;

/// Puts each stream of `streams` into its message of `exchange`, readable by the guest in `store`.
pub(crate) fn attach(
    store: &mut Store<StoreState>,
    exchange: &mut WasmExchange,
    streams: Streams,
    bounds: &StreamBounds,
) -> wasmtime::Result<()> {
    for (slot, body) in streams.bodies {
        let handle = handle(&mut *store, &body, bounds)?;
        match message_mut(exchange, slot) {
            Some(message) => message.body = WasmBody::Stream(handle),
            // `Streams::take_from` only takes bodies of messages that exist.
            None => wasmtime::bail!("stream body for a message the exchange does not have"),
        }
    }
    Ok(())
}

/// The guest's handle on `body`: a `stream<u8>` fed from it, and its terminal future.
pub(crate) fn handle(
    mut store: impl AsContextMut<Data = StoreState>,
    body: &StreamBody,
    bounds: &StreamBounds,
) -> wasmtime::Result<StreamBodyHandle> {
    let (terminal_tx, terminal_rx) = oneshot::channel::<Terminal>();
    let feed = GuestFeed::new(body.take(), terminal_tx, bounds.clone());
    let stream = StreamReader::new(&mut store, feed)?;
    let terminal = FutureReader::new(&mut store, async move {
        // A feed dropped before its end (the guest stopped reading) ends cleanly.
        Ok::<_, wasmtime::Error>(terminal_rx.await.unwrap_or(Ok(())))
    })?;
    Ok(StreamBodyHandle {
        stream,
        terminal,
        size_hint: body.size_hint,
        content_type: body.content_type.clone(),
        origin: body.origin.clone(),
    })
}

/// The guest-facing wire error for a host stream that ended badly.
fn wire_error(error: &StreamError) -> WasmError {
    match error {
        StreamError::TooLarge { .. } => WasmError::ProcessorError(error.to_string()),
        StreamError::Ended { status: 408 | 504, .. } => WasmError::Timeout,
        _ => WasmError::Io(error.to_string()),
    }
}

/// Feeds a host byte stream to a guest reader, one chunk at a time.
pub(crate) struct GuestFeed {
    chunks: Option<ByteStream>,
    /// Bytes of the current chunk not read by the guest yet.
    pending: Bytes,
    terminal: Option<oneshot::Sender<Terminal>>,
    bounds: StreamBounds,
    sent: u64,
    /// Fires when the host stream has had nothing for `stream-idle-timeout`.
    idle: Pin<Box<Sleep>>,
    /// Whether `idle` is armed for the current wait.
    waiting: bool,
}

impl GuestFeed {
    fn new(chunks: Option<ByteStream>, terminal: oneshot::Sender<Terminal>, bounds: StreamBounds) -> Self {
        let idle = Box::pin(tokio::time::sleep(Duration::ZERO));
        Self { chunks, pending: Bytes::new(), terminal: Some(terminal), bounds, sent: 0, idle, waiting: false }
    }

    /// Ends the stream: the guest sees EOF, then `outcome` on the terminal future.
    fn end(&mut self, outcome: Result<(), StreamError>) -> Poll<wasmtime::Result<StreamResult>> {
        self.chunks = None;
        if let Some(terminal) = self.terminal.take() {
            let _ = terminal.send(outcome.map_err(|e| wire_error(&e)));
        }
        Poll::Ready(Ok(StreamResult::Dropped))
    }

    /// Polls the host stream for the next chunk into `pending`; `Some` when the stream ended or must wait.
    fn refill(&mut self, cx: &mut Context<'_>, finish: bool) -> Option<Poll<wasmtime::Result<StreamResult>>> {
        let Some(chunks) = self.chunks.as_mut() else {
            return Some(self.end(Err(StreamError::Consumed)));
        };
        match chunks.poll_next_unpin(cx) {
            Poll::Ready(Some(Ok(chunk))) => {
                self.waiting = false;
                self.sent = self.sent.saturating_add(chunk.len() as u64);
                if self.sent > self.bounds.max_bytes {
                    let (plugin, max) = (self.bounds.plugin.to_string(), self.bounds.max_bytes);
                    return Some(self.end(Err(StreamError::TooLarge { plugin, max })));
                }
                self.pending = chunk;
                None
            }
            Poll::Ready(Some(Err(error))) => Some(self.end(Err(error))),
            Poll::Ready(None) => Some(self.end(Ok(()))),
            Poll::Pending if finish => Some(Poll::Ready(Ok(StreamResult::Cancelled))),
            Poll::Pending => {
                if !self.waiting {
                    self.waiting = true;
                    self.idle.as_mut().reset(Instant::now() + self.bounds.idle_timeout);
                }
                if self.idle.as_mut().poll(cx).is_ready() {
                    let (plugin, timeout) = (self.bounds.plugin.to_string(), self.bounds.idle_timeout);
                    return Some(self.end(Err(StreamError::Idle { plugin, timeout })));
                }
                Some(Poll::Pending)
            }
        }
    }
}

impl StreamProducer<StoreState> for GuestFeed {
    type Item = u8;
    type Buffer = VecBuffer<u8>;

    fn poll_produce<'a>(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut store: StoreContextMut<'a, StoreState>,
        mut destination: Destination<'a, u8, VecBuffer<u8>>,
        finish: bool,
    ) -> Poll<wasmtime::Result<StreamResult>> {
        let this = self.get_mut();
        // Skip empty chunks: a zero-length delivery would look like no progress.
        while this.pending.is_empty() {
            if let Some(done) = this.refill(cx, finish) {
                return done;
            }
        }
        match destination.remaining(&mut store) {
            // A zero-length read asks whether bytes are ready: they are.
            Some(0) => {}
            Some(capacity) => {
                let mut direct = destination.as_direct(store, 0);
                let n = capacity.min(this.pending.len());
                direct.remaining()[..n].copy_from_slice(&this.pending[..n]);
                direct.mark_written(n);
                this.pending.advance(n);
                this.bounds.moved.increment(n as u64);
            }
            // A host reader (a guest handed the stream back unread): give it the chunk.
            None => destination.set_buffer(std::mem::take(&mut this.pending).to_vec().into()),
        }
        Poll::Ready(Ok(StreamResult::Completed))
    }
}
