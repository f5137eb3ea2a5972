//! Guest → host: a `stream` body a guest returned, drained lazily.
//!
//! The instance stays with the drain until the stream ends: [`drain`] pipes
//! the guest's `stream<u8>` into [`HostDrain`], which copies each write out
//! of guest memory into a bounded channel (back-pressure: a full channel
//! holds the guest's write), and reads the `terminal` future after the
//! stream's end. The caller's [`StreamBody`] reads that channel; dropping it
//! cancels the drain. A watchdog fails a stream that moves no byte for
//! `stream-idle-timeout`, whether the guest stopped writing or the reader
//! stopped taking (a full channel is a stall too).

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::Bytes;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::PollSender;
use wasmtime::component::{FutureConsumer, FutureReader, Source, StreamConsumer, StreamReader, StreamResult};
use wasmtime::{AsContextMut, Store, StoreContextMut};

use super::{CHANNEL_CHUNKS, MAX_CHUNK, Returned, Slot, StreamBounds, message_mut};
use crate::bindings::{WasmBody, WasmError, WasmExchange};
use crate::exchange::{StreamBody, StreamError};
use crate::store::StoreState;

/// One item of a drained stream.
type Item = Result<Bytes, StreamError>;

/// The stream parts of a body a guest returned.
pub(crate) struct GuestStream {
    slot: Slot,
    reader: StreamReader<u8>,
    terminal: FutureReader<Result<(), WasmError>>,
    body: StreamBody,
    sender: mpsc::Sender<Item>,
}

impl GuestStream {
    /// The body the caller gets, and where it goes, while the drain runs on.
    pub(crate) fn returned(&self) -> Returned {
        Returned { slot: self.slot, body: self.body.clone() }
    }
}

/// Takes the stream body out of an exchange the guest returned (leaving it empty).
///
/// More than one stream body is refused: each is closed and the reason returned.
pub(crate) fn take_returned(
    mut store: impl AsContextMut<Data = StoreState>,
    exchange: &mut WasmExchange,
) -> Result<Option<GuestStream>, String> {
    let mut found = Vec::new();
    for slot in [Slot::Input, Slot::Output] {
        if let Some(message) = message_mut(exchange, slot)
            && let WasmBody::Stream(_) = message.body
            && let WasmBody::Stream(handle) = std::mem::replace(&mut message.body, WasmBody::Empty)
        {
            found.push((slot, handle));
        }
    }
    if found.len() > 1 {
        for (_, mut handle) in found {
            let _ = handle.stream.close(&mut store);
            let _ = handle.terminal.close(&mut store);
        }
        return Err("the guest returned two stream bodies; an exchange may carry at most one".into());
    }
    Ok(found.pop().map(|(slot, handle)| {
        let (sender, mut receiver) = mpsc::channel::<Item>(CHANNEL_CHUNKS);
        let chunks = futures_util::stream::poll_fn(move |cx| receiver.poll_recv(cx));
        let mut body = StreamBody::new(chunks);
        body.size_hint = handle.size_hint;
        body.content_type = handle.content_type;
        body.origin = handle.origin;
        GuestStream { slot, reader: handle.stream, terminal: handle.terminal, body, sender }
    }))
}

/// How a drain ended.
pub(crate) enum DrainEnd {
    /// The stream ended and its terminal said `ok`: the instance can be reused.
    Clean,
    /// The reader dropped the body before its end.
    Cancelled,
    /// The stream failed; the reader still has to be told.
    Failed(StreamError),
    /// The guest trapped or wasmtime failed while draining.
    Wasm(wasmtime::Error),
}

/// When a byte last moved, shared by the drain and its watchdog.
struct Progress(Mutex<Instant>);

impl Progress {
    fn touch(&self) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = Instant::now();
    }

    fn last(&self) -> Instant {
        *self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Drains `guest`'s stream from `store` into its body's channel until it ends.
///
/// The instance's epoch deadline becomes "`stream-idle-timeout` after the last
/// write", so a guest spinning instead of writing is interrupted too.
///
/// Gives back the channel's sender, so the caller can report a failure after
/// it dealt with the instance.
pub(crate) async fn drain(
    store: &mut Store<StoreState>,
    guest: GuestStream,
    bounds: &StreamBounds,
) -> (DrainEnd, mpsc::Sender<Item>) {
    let watch = match start(&mut *store, guest, bounds, true) {
        Ok(watch) => watch,
        Err((error, sender)) => return (DrainEnd::Wasm(error), sender),
    };
    store.data_mut().arm(deadline_after(bounds));
    let DrainWatch { ends, progress, sender, bounds } = watch;
    let run = store.run_concurrent(async move |_| ends.wait().await);
    let end = tokio::select! {
        ran = run => match ran {
            Ok(end) => end,
            Err(error) => DrainEnd::Wasm(error),
        },
        () = watchdog(&progress, &bounds, &sender) => idle(&bounds),
        () = sender.closed() => DrainEnd::Cancelled,
    };
    (end, sender)
}

/// Drains `guest`'s stream from a store whose event loop something else keeps
/// running (a source's `run`): a task waits for its end and reports a failure
/// to the body's reader. The store's deadline is left alone.
pub(crate) fn drain_beside(store: impl AsContextMut<Data = StoreState>, guest: GuestStream, bounds: &StreamBounds) {
    let DrainWatch { ends, progress, sender, bounds } = match start(store, guest, bounds, false) {
        Ok(watch) => watch,
        Err((error, sender)) => {
            let error = StreamError::Plugin(crate::error::WasmError::Runtime {
                plugin: bounds.plugin.to_string(),
                message: format!("{error:#}"),
            });
            tokio::spawn(async move { report(&sender, error).await });
            return;
        }
    };
    tokio::spawn(async move {
        let end = tokio::select! {
            end = ends.wait() => end,
            () = watchdog(&progress, &bounds, &sender) => idle(&bounds),
            () = sender.closed() => DrainEnd::Cancelled,
        };
        if let DrainEnd::Failed(error) = end {
            report(&sender, error).await;
        }
    });
}

fn idle(bounds: &StreamBounds) -> DrainEnd {
    DrainEnd::Failed(StreamError::Idle { plugin: bounds.plugin.to_string(), timeout: bounds.idle_timeout })
}

/// A drain in progress: what signals its end, and what watches it.
struct DrainWatch {
    ends: Ends,
    progress: Arc<Progress>,
    sender: mpsc::Sender<Item>,
    bounds: StreamBounds,
}

/// The signals of a drain's end: the stream's close, its terminal value, or a failure on the way.
struct Ends {
    ended: oneshot::Receiver<()>,
    terminal: oneshot::Receiver<Result<(), WasmError>>,
    failure: Arc<Mutex<Option<StreamError>>>,
    plugin: Arc<str>,
}

impl Ends {
    /// Resolves once the stream closed and its terminal said how (the order a guest writes them in does not matter).
    async fn wait(self) -> DrainEnd {
        let _ = self.ended.await;
        let failed = || self.failure.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(error) = failed() {
            return DrainEnd::Failed(error);
        }
        let terminal = self.terminal.await;
        if let Some(error) = failed() {
            return DrainEnd::Failed(error);
        }
        match terminal {
            Ok(Ok(())) => DrainEnd::Clean,
            Ok(Err(error)) => DrainEnd::Failed(StreamError::Plugin(crate::error::WasmError::from_guest(&self.plugin, error))),
            Err(_) => DrainEnd::Failed(StreamError::Plugin(crate::error::WasmError::InvalidOutput {
                plugin: self.plugin.to_string(),
                reason: "the guest dropped its stream's terminal future without resolving it".into(),
            })),
        }
    }
}

/// Pipes the guest's stream and terminal into host consumers.
fn start(
    mut store: impl AsContextMut<Data = StoreState>,
    guest: GuestStream,
    bounds: &StreamBounds,
    bump_deadline: bool,
) -> Result<DrainWatch, (wasmtime::Error, mpsc::Sender<Item>)> {
    let GuestStream { reader, terminal, sender, .. } = guest;
    let progress = Arc::new(Progress(Mutex::new(Instant::now())));
    let failure = Arc::new(Mutex::new(None::<StreamError>));
    let (ended_tx, ended) = oneshot::channel::<()>();
    let (terminal_tx, terminal_rx) = oneshot::channel::<Result<(), WasmError>>();
    let consumer = HostDrain {
        sender: PollSender::new(sender.clone()),
        bounds: bounds.clone(),
        received: 0,
        progress: progress.clone(),
        failure: failure.clone(),
        ended: Some(ended_tx),
        bump_deadline,
    };
    if let Err(e) = reader.pipe(&mut store, consumer) {
        return Err((e, sender));
    }
    if let Err(e) = terminal.pipe(&mut store, TerminalRead { value: Some(terminal_tx) }) {
        return Err((e, sender));
    }
    let ends = Ends { ended, terminal: terminal_rx, failure, plugin: bounds.plugin.clone() };
    Ok(DrainWatch { ends, progress, sender, bounds: bounds.clone() })
}

/// The epoch deadline while draining: `stream-idle-timeout` from now.
fn deadline_after(bounds: &StreamBounds) -> Instant {
    let now = Instant::now();
    now.checked_add(bounds.idle_timeout).unwrap_or(now + crate::limits::Limits::MAX_TIMEOUT / 2)
}

/// Resolves once no byte moved for the idle timeout, whichever side held it up.
///
/// A reader that takes nothing (a client that stopped reading) keeps the
/// channel full: that is a stall too, and it must not pin the instance and its
/// call slot for ever. A reader that takes a chunk lets the guest write the
/// next one, which is progress.
async fn watchdog(progress: &Progress, bounds: &StreamBounds, _sender: &mpsc::Sender<Item>) {
    loop {
        let due = progress.last().checked_add(bounds.idle_timeout);
        let Some(due) = due else { return std::future::pending().await };
        tokio::time::sleep_until(due.into()).await;
        if progress.last().checked_add(bounds.idle_timeout).is_some_and(|due| due <= Instant::now()) {
            return;
        }
    }
}

/// Takes the guest's writes into the body's channel, a reserved slot per chunk.
struct HostDrain {
    sender: PollSender<Item>,
    bounds: StreamBounds,
    received: u64,
    progress: Arc<Progress>,
    failure: Arc<Mutex<Option<StreamError>>>,
    /// Fired when wasmtime drops the consumer: the guest's stream has ended.
    ended: Option<oneshot::Sender<()>>,
    /// Whether each write moves the store's epoch deadline (a drain owning its store).
    bump_deadline: bool,
}

impl HostDrain {
    fn fail(&mut self, error: StreamError) -> Poll<wasmtime::Result<StreamResult>> {
        *self.failure.lock().unwrap_or_else(|p| p.into_inner()) = Some(error);
        if let Some(ended) = self.ended.take() {
            let _ = ended.send(());
        }
        Poll::Ready(Ok(StreamResult::Dropped))
    }
}

impl Drop for HostDrain {
    fn drop(&mut self) {
        if let Some(ended) = self.ended.take() {
            let _ = ended.send(());
        }
    }
}

impl StreamConsumer<StoreState> for HostDrain {
    type Item = u8;

    fn poll_consume(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut store: StoreContextMut<'_, StoreState>,
        source: Source<'_, u8>,
        finish: bool,
    ) -> Poll<wasmtime::Result<StreamResult>> {
        let this = self.get_mut();
        // Whenever the host takes up the stream again, the guest gets a fresh idle deadline.
        if this.bump_deadline {
            store.data_mut().deadline = deadline_after(&this.bounds);
        }
        match this.sender.poll_reserve(cx) {
            Poll::Pending if finish => Poll::Ready(Ok(StreamResult::Cancelled)),
            Poll::Pending => Poll::Pending,
            // The reader dropped the body: stop taking bytes.
            Poll::Ready(Err(_)) => Poll::Ready(Ok(StreamResult::Dropped)),
            Poll::Ready(Ok(())) => {
                let available = source.remaining(&mut store);
                if available == 0 {
                    return Poll::Ready(Ok(StreamResult::Completed));
                }
                let n = available.min(MAX_CHUNK);
                if this.received.saturating_add(n as u64) > this.bounds.max_bytes {
                    let (plugin, max) = (this.bounds.plugin.to_string(), this.bounds.max_bytes);
                    return this.fail(StreamError::TooLarge { plugin, max });
                }
                let mut direct = source.as_direct(store);
                let chunk = Bytes::copy_from_slice(&direct.remaining()[..n]);
                direct.mark_read(n);
                this.received += n as u64;
                this.bounds.moved.increment(n as u64);
                if this.sender.send_item(Ok(chunk)).is_err() {
                    return Poll::Ready(Ok(StreamResult::Dropped));
                }
                this.progress.touch();
                Poll::Ready(Ok(StreamResult::Completed))
            }
        }
    }
}

/// Reads the guest's `terminal` future once.
struct TerminalRead {
    value: Option<oneshot::Sender<Result<(), WasmError>>>,
}

impl FutureConsumer<StoreState> for TerminalRead {
    type Item = Result<(), WasmError>;

    fn poll_consume(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        store: StoreContextMut<'_, StoreState>,
        mut source: Source<'_, Self::Item>,
        _finish: bool,
    ) -> Poll<wasmtime::Result<()>> {
        let this = self.get_mut();
        let mut value = None;
        source.read(store, &mut value)?;
        if let (Some(value), Some(tx)) = (value, this.value.take()) {
            let _ = tx.send(value);
        }
        Poll::Ready(Ok(()))
    }
}

/// Sends the drain's failure to the body's reader, after the chunks before it.
pub(crate) async fn report(sender: &mpsc::Sender<Item>, error: StreamError) {
    let _ = sender.send(Err(error)).await;
}
