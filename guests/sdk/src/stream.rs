//! Stream bodies: [`StreamBody`], read with a [`BodyReader`] and produced by
//! [`StreamBody::from_fn`] through a [`ChunkWriter`].
//!
//! A WIT `stream<u8>` is a rendezvous with no buffer: a write completes only
//! when the reader takes the bytes, and the host starts reading a stream a
//! guest returns only after `process`/`invoke` has returned. So the bytes of a
//! returned stream must be written by a task that runs on after the return:
//! [`StreamBody::from_fn`] spawns that task (`wit_bindgen::spawn_local`),
//! closes the stream (end of file) when the producer is done and only then
//! resolves the terminal future, with the producer's error if it failed.
//!
//! The canonical built-ins that create a stream and a future are imported per
//! world (and per exported function), so the plugin, bean and source adapters
//! install their world's constructors ([`install`]) before each call; one
//! implementation serves all three worlds.
//!
//! Every spawned writer is counted until it has finished (end of file written
//! and terminal resolved, or the host hung up): [`drained`] waits for none to
//! be left, which a source's `run` does before it returns (the host may end
//! the instance once `run` has returned).

use crate::bindings::types::{StreamBodyHandle, WasmError};
use crate::{Body, Error};
use std::cell::{Cell, RefCell};
use std::fmt;
use std::sync::OnceLock;
use std::task::{Poll, Waker};
use wit_bindgen::{FutureReader, FutureWriter, StreamReader, StreamResult, StreamWriter};

/// The value of a stream body's terminal future.
pub(crate) type TerminalValue = Result<(), WasmError>;

/// The default chunk size of a [`BodyReader`]: 64 KiB.
pub const DEFAULT_CHUNK_SIZE: usize = 64 * 1024;

/// Creates a `stream<u8>` and a terminal `future` with one world's built-ins.
#[derive(Clone, Copy)]
pub(crate) struct Constructors {
    pub(crate) stream: fn() -> (StreamWriter<u8>, StreamReader<u8>),
    pub(crate) terminal: fn() -> (FutureWriter<TerminalValue>, FutureReader<TerminalValue>),
}

static CONSTRUCTORS: OnceLock<Constructors> = OnceLock::new();

/// Installs the current world's constructors (a component has one world, so
/// the first call wins and later ones are the same).
pub(crate) fn install(constructors: Constructors) {
    let _ = CONSTRUCTORS.set(constructors);
}

fn constructors() -> Constructors {
    *CONSTRUCTORS.get().expect(
        "camel-wasm-guest: a stream body can only be created while a plugin's \
         `process`, a bean's method or a source's `run` runs",
    )
}

/// A body delivered as a stream of bytes (the WIT `stream-body-handle`).
///
/// It cannot be cloned and has no text: read it, once, with
/// [`StreamBody::reader`] (or [`Body::into_reader`]). It may be returned
/// unread, which hands the stream back to the host. Two stream bodies are
/// equal only if they are the same value.
///
/// Create one with [`StreamBody::from_fn`] or [`StreamBody::from_chunks`] (or
/// [`Body::stream_from`], [`Body::stream_from_iter`]).
pub struct StreamBody {
    stream: StreamReader<u8>,
    terminal: FutureReader<TerminalValue>,
    /// The number of bytes the stream is expected to carry, if known.
    pub size_hint: Option<u64>,
    /// The content type of the bytes, if known.
    pub content_type: Option<String>,
    /// Where the stream comes from, if known (informational).
    pub origin: Option<String>,
}

impl StreamBody {
    /// A stream body whose bytes `producer` writes, chunk by chunk, into the
    /// [`ChunkWriter`] it is given.
    ///
    /// Returns at once: `producer` runs in a task spawned with
    /// `wit_bindgen::spawn_local`, which goes on after `process`/`invoke` has
    /// returned and the host reads the stream (writing inline would deadlock).
    /// When `producer` returns, the stream is closed (end of file) and then the
    /// terminal future resolves: `Ok` for `Ok(())`, or the producer's error
    /// after the bytes written so far. If the host drops the stream, writes
    /// fail ([`ChunkWriter::write`] returns an error; use `?` to stop) and the
    /// terminal resolves `Ok` quietly.
    ///
    /// May only be called while a plugin's `process`, a bean's method or a
    /// source's `run` runs (it panics elsewhere, e.g. in a policy, a source's
    /// `configure` or in native tests).
    ///
    /// ```no_run
    /// # use camel_wasm_guest::prelude::*;
    /// let body = StreamBody::from_fn(async |w: &mut ChunkWriter| {
    ///     for i in 0..3 {
    ///         w.write(format!("line {i}\n")).await?;
    ///     }
    ///     Ok(())
    /// })
    /// .with_content_type("text/plain");
    /// ```
    pub fn from_fn<F>(producer: F) -> StreamBody
    where
        F: AsyncFnOnce(&mut ChunkWriter) -> Result<(), Error> + 'static,
    {
        let constructors = constructors();
        let (writer, stream) = (constructors.stream)();
        let (terminal_writer, terminal) = (constructors.terminal)();
        let pending = PendingWriter::new();
        wit_bindgen::spawn_local(async move {
            drive(ChunkWriter::new(Sink::Wit(writer)), TerminalSink::Wit(terminal_writer), producer).await;
            drop(pending);
        });
        StreamBody { stream, terminal, size_hint: None, content_type: None, origin: None }
    }

    /// A stream body of the chunks `chunks` yields, produced lazily as
    /// [`StreamBody::from_fn`] does; an `Err` item ends the stream with that
    /// error.
    pub fn from_chunks<I>(chunks: I) -> StreamBody
    where
        I: IntoIterator<Item = Result<Vec<u8>, Error>>,
        I::IntoIter: 'static,
    {
        let chunks = chunks.into_iter();
        StreamBody::from_fn(async move |w: &mut ChunkWriter| {
            for chunk in chunks {
                w.write(chunk?).await?;
            }
            Ok(())
        })
    }

    /// Sets the size hint.
    pub fn with_size_hint(mut self, bytes: u64) -> Self {
        self.size_hint = Some(bytes);
        self
    }

    /// Sets the content type.
    pub fn with_content_type(mut self, content_type: impl Into<String>) -> Self {
        self.content_type = Some(content_type.into());
        self
    }

    /// Sets the origin.
    pub fn with_origin(mut self, origin: impl Into<String>) -> Self {
        self.origin = Some(origin.into());
        self
    }

    /// A reader of this stream, in chunks of up to [`DEFAULT_CHUNK_SIZE`] bytes.
    pub fn reader(self) -> BodyReader {
        BodyReader::new(Source::Stream { stream: Some(self.stream), terminal: Some(self.terminal) })
    }
}

impl fmt::Debug for StreamBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StreamBody")
            .field("size_hint", &self.size_hint)
            .field("content_type", &self.content_type)
            .field("origin", &self.origin)
            .finish_non_exhaustive()
    }
}

/// Identity: a stream body equals only itself (a stream cannot be compared by content).
impl PartialEq for StreamBody {
    fn eq(&self, other: &Self) -> bool {
        std::ptr::eq(self, other)
    }
}

impl Eq for StreamBody {}

impl From<StreamBodyHandle> for StreamBody {
    fn from(handle: StreamBodyHandle) -> Self {
        StreamBody {
            stream: handle.stream,
            terminal: handle.terminal,
            size_hint: handle.size_hint,
            content_type: handle.content_type,
            origin: handle.origin,
        }
    }
}

impl From<StreamBody> for StreamBodyHandle {
    fn from(body: StreamBody) -> Self {
        StreamBodyHandle {
            stream: body.stream,
            terminal: body.terminal,
            size_hint: body.size_hint,
            content_type: body.content_type,
            origin: body.origin,
        }
    }
}

impl From<StreamBody> for Body {
    fn from(body: StreamBody) -> Self {
        Body::Stream(body)
    }
}

/// Reads a body chunk by chunk: a stream as it arrives, any other body from
/// memory. Get one with [`Body::into_reader`] or [`StreamBody::reader`].
///
/// At the end of a stream it awaits the stream's terminal future, so an error
/// the producer reported after the bytes it sent comes out of
/// [`BodyReader::next_chunk`] as `Some(Err(..))`. Dropping the reader drops
/// the stream, which tells its writer to stop.
pub struct BodyReader {
    source: Source,
    chunk_size: usize,
    bytes: u64,
    chunks: u64,
}

/// What a [`BodyReader`] reads from.
enum Source {
    /// Nothing left: the end was reached or an error returned.
    Done,
    /// A body in memory, handed out in chunks.
    Memory { data: Vec<u8>, offset: usize },
    /// A WIT stream and its terminal future (each `None` once consumed).
    Stream { stream: Option<StreamReader<u8>>, terminal: Option<FutureReader<TerminalValue>> },
    /// Scripted chunks and terminal value, for tests on the host.
    #[cfg(test)]
    Mock { chunks: std::collections::VecDeque<Vec<u8>>, terminal: Result<(), Error> },
}

/// One step of a source: a chunk (possibly empty), or the end with the
/// terminal's value.
enum Step {
    Chunk(Vec<u8>),
    End(Result<(), Error>),
}

impl Source {
    async fn step(&mut self, max: usize) -> Step {
        match self {
            Source::Done => Step::End(Ok(())),
            Source::Memory { data, offset } => {
                if *offset >= data.len() {
                    Step::End(Ok(()))
                } else if *offset == 0 && data.len() <= max {
                    *offset = data.len();
                    Step::Chunk(std::mem::take(data))
                } else {
                    let end = data.len().min(*offset + max);
                    let chunk = data[*offset..end].to_vec();
                    *offset = end;
                    Step::Chunk(chunk)
                }
            }
            Source::Stream { stream, terminal } => {
                if let Some(reader) = stream {
                    let (status, chunk) = reader.read(Vec::with_capacity(max)).await;
                    match status {
                        StreamResult::Complete(_) => return Step::Chunk(chunk),
                        // The writer closed the stream (end of file).
                        StreamResult::Dropped | StreamResult::Cancelled => {
                            *stream = None;
                            if !chunk.is_empty() {
                                return Step::Chunk(chunk);
                            }
                        }
                    }
                }
                match terminal.take() {
                    Some(terminal) => Step::End(terminal.await.map_err(Error::from)),
                    None => Step::End(Ok(())),
                }
            }
            #[cfg(test)]
            Source::Mock { chunks, terminal } => match chunks.pop_front() {
                Some(chunk) => Step::Chunk(chunk),
                None => Step::End(std::mem::replace(terminal, Ok(()))),
            },
        }
    }
}

impl BodyReader {
    fn new(source: Source) -> Self {
        BodyReader { source, chunk_size: DEFAULT_CHUNK_SIZE, bytes: 0, chunks: 0 }
    }

    /// Reads chunks of up to `bytes` bytes (at least 1) from now on.
    pub fn with_chunk_size(mut self, bytes: usize) -> Self {
        self.chunk_size = bytes.max(1);
        self
    }

    /// The next chunk (never empty); `None` at the end; `Some(Err(e))` once if
    /// the stream's producer failed (its terminal error), then `None`.
    pub async fn next_chunk(&mut self) -> Option<Result<Vec<u8>, Error>> {
        loop {
            match self.source.step(self.chunk_size).await {
                Step::Chunk(chunk) if chunk.is_empty() => continue,
                Step::Chunk(chunk) => {
                    self.bytes += chunk.len() as u64;
                    self.chunks += 1;
                    return Some(Ok(chunk));
                }
                Step::End(end) => {
                    self.source = Source::Done;
                    return end.err().map(Err);
                }
            }
        }
    }

    /// Reads the rest into memory; fails if it is more than `limit` bytes
    /// (processor error `body larger than LIMIT bytes`) or if the stream failed.
    pub async fn read_all(mut self, limit: usize) -> Result<Vec<u8>, Error> {
        let mut all = Vec::new();
        while let Some(chunk) = self.next_chunk().await {
            let chunk = chunk?;
            if all.len() + chunk.len() > limit {
                return Err(Error::processor(format!("body larger than {limit} bytes")));
            }
            all.extend_from_slice(&chunk);
        }
        Ok(all)
    }

    /// Reads the rest, keeping nothing, and returns the total number of bytes
    /// read by this reader; fails if the stream failed.
    pub async fn count(mut self) -> Result<u64, Error> {
        while let Some(chunk) = self.next_chunk().await {
            chunk?;
        }
        Ok(self.bytes)
    }

    /// The bytes read so far.
    pub fn bytes_read(&self) -> u64 {
        self.bytes
    }

    /// The (non-empty) chunks read so far.
    pub fn chunks_read(&self) -> u64 {
        self.chunks
    }
}

impl fmt::Debug for BodyReader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BodyReader")
            .field("chunk_size", &self.chunk_size)
            .field("bytes_read", &self.bytes)
            .field("chunks_read", &self.chunks)
            .finish_non_exhaustive()
    }
}

impl Body {
    /// A reader of this body, chunk by chunk: a stream as it arrives, any other
    /// body's bytes from memory (nothing for [`Body::Empty`]).
    pub fn into_reader(self) -> BodyReader {
        match self {
            Body::Stream(stream) => stream.reader(),
            Body::Empty => BodyReader::new(Source::Done),
            Body::Bytes(data) => BodyReader::new(Source::Memory { data, offset: 0 }),
            Body::Text(s) | Body::Json(s) | Body::Xml(s) => BodyReader::new(Source::Memory { data: s.into_bytes(), offset: 0 }),
        }
    }

    /// A stream body whose bytes `producer` writes: see [`StreamBody::from_fn`].
    pub fn stream_from<F>(producer: F) -> Body
    where
        F: AsyncFnOnce(&mut ChunkWriter) -> Result<(), Error> + 'static,
    {
        StreamBody::from_fn(producer).into()
    }

    /// A stream body of the chunks `chunks` yields: see [`StreamBody::from_chunks`].
    pub fn stream_from_iter<I>(chunks: I) -> Body
    where
        I: IntoIterator<Item = Result<Vec<u8>, Error>>,
        I::IntoIter: 'static,
    {
        StreamBody::from_chunks(chunks).into()
    }
}

/// Where the producer of a [`StreamBody::from_fn`] writes its chunks.
pub struct ChunkWriter {
    sink: Sink,
    written: u64,
    closed: bool,
}

enum Sink {
    Wit(StreamWriter<u8>),
    #[cfg(test)]
    Mock(tests::MockSink),
}

impl ChunkWriter {
    fn new(sink: Sink) -> Self {
        ChunkWriter { sink, written: 0, closed: false }
    }

    /// Writes `chunk`, waiting until the host has taken all of it.
    ///
    /// Fails with the I/O error `stream closed by the reader` if the host
    /// dropped the stream: stop producing then (`?` does it).
    pub async fn write(&mut self, chunk: impl Into<Vec<u8>>) -> Result<(), Error> {
        let chunk = chunk.into();
        if self.closed {
            return Err(closed());
        }
        if chunk.is_empty() {
            return Ok(());
        }
        let len = chunk.len();
        let unwritten = match &mut self.sink {
            Sink::Wit(writer) => writer.write_all(chunk).await.len(),
            #[cfg(test)]
            Sink::Mock(sink) => sink.write(chunk),
        };
        self.written += (len - unwritten) as u64;
        if unwritten == 0 {
            Ok(())
        } else {
            self.closed = true;
            Err(closed())
        }
    }

    /// The bytes the host has taken so far.
    pub fn bytes_written(&self) -> u64 {
        self.written
    }

    /// Whether the host dropped the stream (writes fail).
    pub fn is_closed(&self) -> bool {
        self.closed
    }
}

impl fmt::Debug for ChunkWriter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChunkWriter").field("bytes_written", &self.written).field("closed", &self.closed).finish_non_exhaustive()
    }
}

fn closed() -> Error {
    Error::io("stream closed by the reader")
}

/// The writing end of a terminal future.
enum TerminalSink {
    Wit(FutureWriter<TerminalValue>),
    #[cfg(test)]
    Mock(tests::MockTerminal),
}

impl TerminalSink {
    async fn resolve(self, value: Result<(), Error>) {
        match self {
            // Fails harmlessly if the host dropped the terminal's reader.
            TerminalSink::Wit(writer) => {
                let _ = writer.write(value.map_err(WasmError::from)).await;
            }
            #[cfg(test)]
            TerminalSink::Mock(terminal) => terminal.resolve(value),
        }
    }
}

thread_local! {
    /// The spawned writers that have not finished yet.
    static PENDING_WRITERS: Cell<usize> = const { Cell::new(0) };
    /// The tasks waiting in [`drained`].
    static DRAIN_WAITERS: RefCell<Vec<Waker>> = const { RefCell::new(Vec::new()) };
}

/// Counts one spawned writer from its creation until it is dropped (finished,
/// or its task dropped), then wakes the [`drained`] waiters if it was the last.
pub(crate) struct PendingWriter(());

impl PendingWriter {
    pub(crate) fn new() -> Self {
        PENDING_WRITERS.with(|n| n.set(n.get() + 1));
        PendingWriter(())
    }
}

impl Drop for PendingWriter {
    fn drop(&mut self) {
        let left = PENDING_WRITERS.with(|n| {
            let left = n.get().saturating_sub(1);
            n.set(left);
            left
        });
        if left == 0 {
            for waker in DRAIN_WAITERS.with(|w| w.take()) {
                waker.wake();
            }
        }
    }
}

/// The number of stream bodies made by [`StreamBody::from_fn`] (and the
/// helpers built on it) whose writer has not finished yet.
pub fn pending_writers() -> usize {
    PENDING_WRITERS.with(Cell::get)
}

/// Waits until every stream body made by [`StreamBody::from_fn`] (and the
/// helpers built on it) has been written out: its end of file and terminal
/// taken by the host, or the host hung up. Returns at once if there is none.
///
/// A source's `run` must not return while a stream it submitted is still
/// draining; the SDK's `run` adapter and [`serve`](crate::serve) await this
/// for you. Awaiting it elsewhere while your own stream body is still unread
/// (e.g. in a plugin's `process`, before returning the body) deadlocks.
pub async fn drained() {
    std::future::poll_fn(|cx| {
        if pending_writers() == 0 {
            Poll::Ready(())
        } else {
            DRAIN_WAITERS.with(|w| {
                let mut waiters = w.borrow_mut();
                if !waiters.iter().any(|x| x.will_wake(cx.waker())) {
                    waiters.push(cx.waker().clone());
                }
            });
            Poll::Pending
        }
    })
    .await
}

/// The spawned writer task: runs `producer`, closes the stream, then resolves
/// the terminal (in that order: a terminal resolved before the end of file
/// lets the host cut the stream short).
async fn drive<F>(mut writer: ChunkWriter, terminal: TerminalSink, producer: F)
where
    F: AsyncFnOnce(&mut ChunkWriter) -> Result<(), Error>,
{
    let result = producer(&mut writer).await;
    // The host dropped the stream: nobody is listening, stop quietly.
    let result = if writer.closed { Ok(()) } else { result };
    drop(writer); // end of file
    terminal.resolve(result).await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;
    use std::collections::VecDeque;
    use std::rc::Rc;
    use std::task::{Context, Poll, Waker};

    /// What the mock stream and terminal saw, in order.
    #[derive(Debug, PartialEq)]
    enum Event {
        Write(Vec<u8>),
        Eof,
        Terminal(Result<(), Error>),
    }

    type Log = Rc<RefCell<Vec<Event>>>;

    /// A stream writer whose reader takes `capacity` bytes, then drops.
    pub(super) struct MockSink {
        log: Log,
        capacity: usize,
    }

    impl MockSink {
        /// Takes what fits and returns how many bytes were not taken.
        pub(super) fn write(&mut self, chunk: Vec<u8>) -> usize {
            let taken = chunk.len().min(self.capacity);
            self.capacity -= taken;
            if taken > 0 {
                self.log.borrow_mut().push(Event::Write(chunk[..taken].to_vec()));
            }
            chunk.len() - taken
        }
    }

    impl Drop for MockSink {
        fn drop(&mut self) {
            self.log.borrow_mut().push(Event::Eof);
        }
    }

    pub(super) struct MockTerminal(Log);

    impl MockTerminal {
        pub(super) fn resolve(self, value: Result<(), Error>) {
            self.0.borrow_mut().push(Event::Terminal(value));
        }
    }

    /// Polls a future that completes without waiting.
    fn ready<F: Future>(f: F) -> F::Output {
        let mut f = std::pin::pin!(f);
        match f.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
            Poll::Ready(v) => v,
            Poll::Pending => panic!("future is pending"),
        }
    }

    /// Runs `producer` as the spawned writer task would, against a reader
    /// that takes `capacity` bytes; returns the events.
    fn run<F>(capacity: usize, producer: F) -> Vec<Event>
    where
        F: AsyncFnOnce(&mut ChunkWriter) -> Result<(), Error>,
    {
        let log = Log::default();
        let sink = MockSink { log: log.clone(), capacity };
        ready(drive(ChunkWriter::new(Sink::Mock(sink)), TerminalSink::Mock(MockTerminal(log.clone())), producer));
        log.take()
    }

    fn mock(chunks: &[&[u8]], terminal: Result<(), Error>) -> BodyReader {
        BodyReader::new(Source::Mock { chunks: chunks.iter().map(|c| c.to_vec()).collect::<VecDeque<_>>(), terminal })
    }

    #[test]
    fn eof_comes_before_the_terminal() {
        let events = run(usize::MAX, async |w: &mut ChunkWriter| {
            w.write(b"ab".to_vec()).await?;
            w.write(Vec::new()).await?;
            w.write("c").await?;
            assert_eq!(w.bytes_written(), 3);
            Ok(())
        });
        assert_eq!(events, [Event::Write(b"ab".to_vec()), Event::Write(b"c".to_vec()), Event::Eof, Event::Terminal(Ok(()))]);
    }

    #[test]
    fn a_producer_error_goes_to_the_terminal_after_the_bytes() {
        let events = run(usize::MAX, async |w: &mut ChunkWriter| {
            w.write("x").await?;
            Err(Error::processor("boom"))
        });
        assert_eq!(events, [Event::Write(b"x".to_vec()), Event::Eof, Event::Terminal(Err(Error::processor("boom")))]);
    }

    #[test]
    fn a_dropped_reader_stops_the_producer_quietly() {
        let mut attempts = 0;
        let events = run(3, async |w: &mut ChunkWriter| {
            loop {
                attempts += 1;
                w.write("ab").await?;
            }
        });
        assert_eq!(attempts, 2);
        assert_eq!(events, [Event::Write(b"ab".to_vec()), Event::Write(b"a".to_vec()), Event::Eof, Event::Terminal(Ok(()))]);
    }

    #[test]
    fn writes_after_close_fail() {
        run(0, async |w: &mut ChunkWriter| {
            assert_eq!(w.write("a").await, Err(closed()));
            assert!(w.is_closed());
            assert_eq!(w.write("b").await, Err(closed()));
            assert_eq!(w.bytes_written(), 0);
            Ok(())
        });
    }

    #[test]
    fn reader_yields_chunks_then_the_terminal_error_once() {
        let mut r = mock(&[b"ab", b"", b"cde"], Err(Error::io("source failed")));
        assert_eq!(ready(r.next_chunk()), Some(Ok(b"ab".to_vec())));
        assert_eq!(ready(r.next_chunk()), Some(Ok(b"cde".to_vec())));
        assert_eq!(ready(r.next_chunk()), Some(Err(Error::io("source failed"))));
        assert_eq!(ready(r.next_chunk()), None);
        assert_eq!((r.bytes_read(), r.chunks_read()), (5, 2));
    }

    #[test]
    fn reader_count_and_read_all() {
        assert_eq!(ready(mock(&[b"ab", b"c"], Ok(())).count()), Ok(3));
        assert_eq!(ready(mock(&[b"ab"], Err(Error::Timeout)).count()), Err(Error::Timeout));
        assert_eq!(ready(mock(&[b"ab", b"c"], Ok(())).read_all(3)), Ok(b"abc".to_vec()));
        assert_eq!(ready(mock(&[b"ab", b"c"], Ok(())).read_all(2)), Err(Error::processor("body larger than 2 bytes")));
    }

    #[test]
    fn memory_bodies_are_read_in_chunks() {
        let mut r = Body::from("abcde").into_reader().with_chunk_size(2);
        let mut chunks = Vec::new();
        while let Some(chunk) = ready(r.next_chunk()) {
            chunks.push(chunk.unwrap());
        }
        assert_eq!(chunks, [b"ab".to_vec(), b"cd".to_vec(), b"e".to_vec()]);
        assert_eq!(r.chunks_read(), 3);
        assert_eq!(ready(Body::Empty.into_reader().count()), Ok(0));
        assert_eq!(ready(Body::Bytes(vec![7; 10]).into_reader().read_all(10)), Ok(vec![7; 10]));
        let mut whole = Body::Json("[1]".into()).into_reader();
        assert_eq!(ready(whole.next_chunk()), Some(Ok(b"[1]".to_vec())));
        assert_eq!(ready(whole.next_chunk()), None);
    }

    #[test]
    fn drained_waits_for_every_pending_writer() {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicUsize, Ordering};
        struct Count(AtomicUsize);
        impl std::task::Wake for Count {
            fn wake(self: Arc<Self>) {
                self.0.fetch_add(1, Ordering::SeqCst);
            }
        }
        assert_eq!(ready(drained()), ());
        let (a, b) = (PendingWriter::new(), PendingWriter::new());
        assert_eq!(pending_writers(), 2);
        let count = Arc::new(Count(AtomicUsize::new(0)));
        let waker = Waker::from(count.clone());
        let mut wait = std::pin::pin!(drained());
        let mut cx = Context::from_waker(&waker);
        assert!(wait.as_mut().poll(&mut cx).is_pending());
        assert!(wait.as_mut().poll(&mut cx).is_pending());
        drop(a);
        assert_eq!(count.0.load(Ordering::SeqCst), 0);
        assert!(wait.as_mut().poll(&mut cx).is_pending());
        drop(b);
        assert_eq!(count.0.load(Ordering::SeqCst), 1);
        assert!(wait.as_mut().poll(&mut cx).is_ready());
        assert_eq!(pending_writers(), 0);
    }

    #[test]
    #[should_panic(expected = "can only be created while")]
    fn creating_a_stream_outside_a_call_panics() {
        let _ = Body::stream_from_iter([Ok(b"x".to_vec())]);
    }
}
