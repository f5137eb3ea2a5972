//! Unit tests of the stream module, with test doubles behind its seams
//! ([`ChunkSink`], [`TerminalSink`], [`ChunkSource`]).

use super::drain::PendingWriter;
use super::reader::{ChunkSource, Step};
use super::writer::{ChunkSink, TerminalSink, closed, drive};
use super::*;
use crate::{Body, Error};
use std::cell::RefCell;
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
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
struct MockSink {
    log: Log,
    capacity: usize,
}

impl ChunkSink for MockSink {
    /// Takes what fits and returns how many bytes were not taken.
    fn write(&mut self, chunk: Vec<u8>) -> Pin<Box<dyn Future<Output = usize> + '_>> {
        let taken = chunk.len().min(self.capacity);
        self.capacity -= taken;
        if taken > 0 {
            self.log.borrow_mut().push(Event::Write(chunk[..taken].to_vec()));
        }
        Box::pin(std::future::ready(chunk.len() - taken))
    }
}

impl Drop for MockSink {
    fn drop(&mut self) {
        self.log.borrow_mut().push(Event::Eof);
    }
}

/// A terminal that records the value it is resolved with.
struct MockTerminal(Log);

impl TerminalSink for MockTerminal {
    async fn resolve(self, value: Result<(), Error>) {
        self.0.borrow_mut().push(Event::Terminal(value));
    }
}

/// Scripted chunks, then the terminal value.
struct MockSource {
    chunks: VecDeque<Vec<u8>>,
    terminal: Result<(), Error>,
}

impl ChunkSource for MockSource {
    fn step(&mut self, _max: usize) -> Pin<Box<dyn Future<Output = Step> + '_>> {
        let step = match self.chunks.pop_front() {
            Some(chunk) => Step::Chunk(chunk),
            None => Step::End(std::mem::replace(&mut self.terminal, Ok(()))),
        };
        Box::pin(std::future::ready(step))
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
    ready(drive(ChunkWriter::new(Box::new(sink)), MockTerminal(log.clone()), producer));
    log.take()
}

fn mock(chunks: &[&[u8]], terminal: Result<(), Error>) -> BodyReader {
    BodyReader::new(Box::new(MockSource { chunks: chunks.iter().map(|c| c.to_vec()).collect(), terminal }))
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
