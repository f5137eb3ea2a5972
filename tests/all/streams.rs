//! Stream bodies both ways, through the real streaming guests: `stream-count`
//! (reads a stream in), `stream-gen` (returns one), `stream-upper` (stream in,
//! stream out). Each case ends by checking the instance went back to its pool
//! and serves the next call.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use camel_wasm::{Body, Exchange, GuestError, Plugin, StreamBody, StreamError, WasmError};
use futures::{Stream, StreamExt};
use serde_json::json;

use crate::fixture::{guest, runtime};

/// The endpoint `wasm:<name>.wasm?<knobs>`.
fn endpoint(name: &str, knobs: &str) -> Plugin {
    let uri = format!("wasm:{}{}{knobs}", guest(name), if knobs.is_empty() { "" } else { "?" });
    Plugin::from_uri(runtime(), &uri).unwrap()
}

/// A stream body over `chunks`.
fn chunks(chunks: Vec<Result<Bytes, StreamError>>) -> Body {
    Body::Stream(StreamBody::from_chunks(chunks))
}

/// Waits (at most 2 s) for `done`.
async fn within_2s(done: impl Fn() -> bool) {
    assert!(crate::fixture::eventually(Duration::from_secs(2), done).await, "not within 2 s");
}

/// The count `stream-count` replied, checking the instance went back to the pool.
async fn count(plugin: &Plugin, body: Body) -> Result<u64, WasmError> {
    let out = plugin.process(Exchange::new(body)).await?;
    let counted: u64 = out.input.body.as_text().expect("a text count").parse().unwrap();
    assert_eq!(out.header("x-stream-bytes"), Some(&json!(counted)));
    Ok(counted)
}

/// Checks `plugin` reuses its one instance for a plain call after a stream case.
async fn still_serves(plugin: &Plugin) {
    within_2s(|| plugin.streams_in_flight() == 0).await;
    let out = plugin.process(Exchange::new("abc")).await.unwrap();
    assert_eq!(out.input.body.as_text(), Some("3"));
    assert_eq!(plugin.idle_instances(), 1, "one warm instance, reused");
}

/// A stream that yields `chunk` every `every`, `n` times.
fn paced(chunk: &'static [u8], every: Duration, n: usize) -> Body {
    let s = futures::stream::unfold(0, move |i| async move {
        if i == n {
            return None;
        }
        tokio::time::sleep(every).await;
        Some((Ok(Bytes::from_static(chunk)), i + 1))
    });
    Body::Stream(StreamBody::new(s))
}

/// A stream that never ends, and says when it was dropped.
struct Endless {
    dropped: Arc<AtomicBool>,
    first: bool,
}

impl Stream for Endless {
    type Item = Result<Bytes, StreamError>;
    fn poll_next(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if std::mem::take(&mut self.first) {
            return Poll::Ready(Some(Ok(Bytes::from_static(b"first"))));
        }
        Poll::Pending
    }
}

impl Drop for Endless {
    fn drop(&mut self) {
        self.dropped.store(true, Ordering::SeqCst);
    }
}

// ---- host -> guest ----

#[tokio::test]
async fn an_empty_stream_counts_zero() {
    let plugin = endpoint("stream-count", "");
    assert_eq!(count(&plugin, chunks(vec![])).await.unwrap(), 0);
    still_serves(&plugin).await;
}

#[tokio::test]
async fn one_1_mib_chunk_arrives_whole() {
    let plugin = endpoint("stream-count", "max-memory=16777216");
    let mib = Bytes::from(vec![7u8; 1 << 20]);
    assert_eq!(count(&plugin, chunks(vec![Ok(mib)])).await.unwrap(), 1 << 20);
    still_serves(&plugin).await;
}

#[tokio::test]
async fn many_small_chunks_arrive_in_order() {
    let plugin = endpoint("stream-count", "");
    let small: Vec<_> = (0..10_000).map(|_| Ok(Bytes::from_static(&[1u8; 100]))).collect();
    assert_eq!(count(&plugin, chunks(small)).await.unwrap(), 1_000_000);
    // Order and content: upper-casing a stream of many small chunks keeps every byte in place.
    let upper = endpoint("stream-upper", "");
    let parts: Vec<_> = (0..2_000).map(|i| Ok(Bytes::from(format!("{:04}ab;", i)))).collect();
    let out = upper.process(Exchange::new(chunks(parts))).await.unwrap();
    let text = out.input.body.as_stream().expect("a stream back").read_all(1 << 20).await.unwrap();
    let expected: String = (0..2_000).map(|i| format!("{:04}AB;", i)).collect();
    assert_eq!(text, Bytes::from(expected));
    still_serves(&plugin).await;
}

#[tokio::test]
async fn an_error_in_the_middle_reaches_the_guest_through_the_terminal() {
    let plugin = endpoint("stream-count", "");
    let body = chunks(vec![Ok(Bytes::from_static(b"abc")), Err(StreamError::Source("disk went away".into()))]);
    let err = count(&plugin, body).await.unwrap_err();
    assert!(
        matches!(&err, WasmError::Guest { error: GuestError::Processor(m), .. } if m.contains("stream failed") && m.contains("disk went away")),
        "{err:?}"
    );
    still_serves(&plugin).await;
}

#[tokio::test]
async fn going_over_max_stream_bytes_is_a_terminal_error_naming_the_limit() {
    let plugin = endpoint("stream-count", "max-stream-bytes=1000");
    let body = chunks((0..4).map(|_| Ok(Bytes::from_static(&[0u8; 500]))).collect());
    let err = count(&plugin, body).await.unwrap_err();
    assert!(err.to_string().contains("max-stream-bytes (1000 bytes)"), "{err}");
    still_serves(&plugin).await;
}

#[tokio::test]
async fn a_slow_producer_under_the_watchdog_is_read_to_the_end() {
    let plugin = endpoint("stream-count", "stream-idle-timeout=1");
    let body = paced(b"0123456789", Duration::from_millis(40), 10);
    assert_eq!(count(&plugin, body).await.unwrap(), 100);
    still_serves(&plugin).await;
}

#[tokio::test]
async fn a_stalled_producer_trips_the_watchdog() {
    let plugin = endpoint("stream-count", "stream-idle-timeout=0.2&timeout=10");
    let dropped = Arc::new(AtomicBool::new(false));
    let body = Body::Stream(StreamBody::new(Endless { dropped: dropped.clone(), first: true }));
    let start = Instant::now();
    let err = count(&plugin, body).await.unwrap_err();
    assert!(err.to_string().contains("stream-idle-timeout"), "{err}");
    assert!(start.elapsed() < Duration::from_secs(5), "the watchdog, not the call timeout, ended it");
    assert!(dropped.load(Ordering::SeqCst), "the stalled source is dropped");
    still_serves(&plugin).await;
}

#[tokio::test]
async fn dropping_the_call_cancels_the_stream_and_frees_the_slot() {
    let plugin = endpoint("stream-count", "max-concurrent=1&timeout=60");
    let dropped = Arc::new(AtomicBool::new(false));
    let body = Body::Stream(StreamBody::new(Endless { dropped: dropped.clone(), first: true }));
    let call = plugin.process(Exchange::new(body));
    assert!(tokio::time::timeout(Duration::from_millis(200), call).await.is_err(), "still reading");
    within_2s(|| dropped.load(Ordering::SeqCst)).await;
    assert_eq!(plugin.available_slots(), 1, "the call slot is back");
    let out = plugin.process(Exchange::new("abcd")).await.unwrap();
    assert_eq!(out.input.body.as_text(), Some("4"));
}

// ---- guest -> host ----

/// Reads a returned stream to its end or first error: (bytes read, the error).
async fn drain(body: &Body) -> (Vec<u8>, Option<StreamError>) {
    let mut chunks = body.as_stream().expect("a stream body").take().expect("not taken yet");
    let mut all = Vec::new();
    while let Some(chunk) = chunks.next().await {
        match chunk {
            Ok(bytes) => all.extend_from_slice(&bytes),
            Err(e) => return (all, Some(e)),
        }
    }
    (all, None)
}

fn generate(bytes: usize) -> Exchange {
    Exchange::new("").with_header("x-stream-bytes", bytes)
}

/// Checks the generator's instance went back to its pool after its stream.
async fn gen_still_serves(plugin: &Plugin) {
    within_2s(|| plugin.streams_in_flight() == 0).await;
    assert_eq!(plugin.idle_instances(), 1, "the instance is back in the pool");
    let out = plugin.process(generate(10)).await.unwrap();
    assert_eq!(drain(&out.input.body).await, (b"abcdefghij".to_vec(), None));
}

#[tokio::test]
async fn return_path_clean_eof() {
    let plugin = endpoint("stream-gen", "max-memory=16777216");
    let out = plugin.process(generate(3 << 20)).await.unwrap();
    let stream = out.input.body.as_stream().unwrap();
    assert_eq!(stream.size_hint, Some(3 << 20));
    assert_eq!(stream.origin.as_deref(), Some("stream-gen"));
    let (bytes, error) = drain(&out.input.body).await;
    assert_eq!(error, None);
    assert_eq!(bytes.len(), 3 << 20);
    assert!(bytes.iter().enumerate().all(|(i, b)| *b == b'a' + (i % 26) as u8), "the generator's pattern");
    gen_still_serves(&plugin).await;
}

#[tokio::test]
async fn return_path_terminal_error_after_partial_data() {
    let plugin = endpoint("stream-gen", "");
    let out = plugin.process(generate(1 << 20).with_header("x-fail-after-bytes", 131_072)).await.unwrap();
    let (bytes, error) = drain(&out.input.body).await;
    assert!(!bytes.is_empty() && bytes.len() < 1 << 20, "partial data: {}", bytes.len());
    let error = error.expect("a terminal error");
    assert!(matches!(&error, StreamError::Plugin(WasmError::Guest { plugin, .. }) if plugin.contains("stream-gen")), "{error:?}");
    assert!(error.to_string().contains("generator failed after"), "{error}");
    within_2s(|| plugin.streams_in_flight() == 0).await;
    let out = plugin.process(generate(10)).await.unwrap();
    assert_eq!(drain(&out.input.body).await, (b"abcdefghij".to_vec(), None), "a new instance serves");
}

#[tokio::test]
async fn return_path_slow_consumer_is_back_pressure_within_the_idle_timeout() {
    // The reader pauses, but less than the idle timeout each time: back-pressure, not a stall.
    let plugin = endpoint("stream-gen", "stream-idle-timeout=0.5");
    let out = plugin.process(generate(2 << 20).with_header("x-chunk-bytes", 262_144)).await.unwrap();
    let mut chunks = out.input.body.as_stream().unwrap().take().unwrap();
    let mut total = 0;
    while let Some(chunk) = chunks.next().await {
        total += chunk.expect("no stall error").len();
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    assert_eq!(total, 2 << 20);
    gen_still_serves(&plugin).await;
}

#[tokio::test]
async fn return_path_a_reader_that_stops_taking_is_a_stall_and_frees_the_slot() {
    // A full channel that stays full for the idle timeout (a client that stopped reading) fails the stream.
    let plugin = endpoint("stream-gen", "stream-idle-timeout=0.15&max-concurrent=1");
    let out = plugin.process(generate(2 << 20).with_header("x-chunk-bytes", 262_144)).await.unwrap();
    let mut chunks = out.input.body.as_stream().unwrap().take().unwrap();
    let first = chunks.next().await.unwrap();
    assert!(first.is_ok());
    tokio::time::sleep(Duration::from_millis(600)).await;
    within_2s(|| plugin.streams_in_flight() == 0).await;
    let mut failed = None;
    while let Some(chunk) = chunks.next().await {
        if let Err(e) = chunk {
            failed = Some(e);
            break;
        }
    }
    assert!(matches!(failed, Some(StreamError::Idle { .. })), "{failed:?}");
    gen_still_serves_after_discard(&plugin).await;
}

#[tokio::test]
async fn return_path_a_stalled_guest_trips_the_watchdog() {
    let plugin = endpoint("stream-gen", "stream-idle-timeout=0.2");
    let out = plugin.process(generate(1 << 20).with_header("x-stall-after-bytes", 65_536)).await.unwrap();
    let start = Instant::now();
    let (bytes, error) = drain(&out.input.body).await;
    assert_eq!(bytes.len(), 65_536);
    assert!(matches!(error, Some(StreamError::Idle { .. })), "{error:?}");
    assert!(start.elapsed() < Duration::from_secs(2));
    within_2s(|| plugin.streams_in_flight() == 0).await;
    assert_eq!(plugin.idle_instances(), 0, "a stalled instance is thrown away");
}

#[tokio::test]
async fn return_path_over_max_stream_bytes_fails_naming_the_limit() {
    let plugin = endpoint("stream-gen", "max-stream-bytes=100000");
    let out = plugin.process(generate(1 << 20)).await.unwrap();
    let (bytes, error) = drain(&out.input.body).await;
    assert!(bytes.len() <= 100_000);
    assert!(matches!(&error, Some(StreamError::TooLarge { max: 100_000, .. })), "{error:?}");
    gen_still_serves_after_discard(&plugin).await;
}

async fn gen_still_serves_after_discard(plugin: &Plugin) {
    within_2s(|| plugin.streams_in_flight() == 0).await;
    let out = plugin.process(generate(10)).await.unwrap();
    assert_eq!(drain(&out.input.body).await, (b"abcdefghij".to_vec(), None));
}

#[tokio::test]
async fn return_path_early_drop_frees_the_store_within_2s() {
    let plugin = endpoint("stream-gen", "max-concurrent=1");
    let out = plugin.process(generate(64 << 20)).await.unwrap();
    let mut chunks = out.input.body.as_stream().unwrap().take().unwrap();
    assert!(chunks.next().await.unwrap().is_ok());
    assert_eq!(plugin.available_slots(), 0, "the draining stream holds the slot");
    drop(chunks);
    drop(out);
    within_2s(|| plugin.streams_in_flight() == 0 && plugin.available_slots() == 1).await;
    gen_still_serves_after_discard(&plugin).await;
}

#[tokio::test]
async fn stream_in_stream_out_transform() {
    let plugin = endpoint("stream-upper", "max-memory=16777216");
    let body = chunks((0..64).map(|_| Ok(Bytes::from_static(&[b'q'; 65_536]))).collect());
    let out = plugin.process(Exchange::new(body)).await.unwrap();
    let (bytes, error) = drain(&out.input.body).await;
    assert_eq!(error, None);
    assert_eq!(bytes.len(), 64 * 65_536);
    assert!(bytes.iter().all(|b| *b == b'Q'));
    // A source error on the way in becomes the output stream's terminal error.
    let body = chunks(vec![Ok(Bytes::from_static(b"ab")), Err(StreamError::Source("upstream broke".into()))]);
    let out = plugin.process(Exchange::new(body)).await.unwrap();
    let (bytes, error) = drain(&out.input.body).await;
    assert_eq!(bytes, b"AB");
    assert!(error.unwrap().to_string().contains("upstream broke"));
    within_2s(|| plugin.streams_in_flight() == 0).await;
}

// ---- rust-camel's own streaming guests, unchanged, and the SDK's bean ----

#[tokio::test]
async fn rust_camels_count_stream_plugin_runs_unchanged() {
    let plugin = endpoint("rc-count-stream", "max-memory=16777216");
    let body = chunks((0..48).map(|_| Ok(Bytes::from_static(&[b'z'; 65_536]))).collect());
    let out = plugin.process(Exchange::new(body)).await.unwrap();
    let reply = out.output.expect("upstream replies in the output message");
    assert_eq!(reply.body.as_text(), Some("streamed 3145728 bytes"));
    // Its return-stream mode, drained here.
    let out = plugin.process(Exchange::new("emit-return-stream")).await.unwrap();
    let reply = out.output.expect("the output message");
    let stream = reply.body.as_stream().expect("a stream body");
    assert_eq!(stream.origin.as_deref(), Some("plugin://emit_return_stream"));
    let expected: String = (0..10).map(|i| format!("chunk-{i}\n")).collect();
    assert_eq!(stream.read_all(1024).await.unwrap(), Bytes::from(expected));
    // A source error reaches it through the terminal, and comes back as its error.
    let body = chunks(vec![Ok(Bytes::from_static(b"abc")), Err(StreamError::Source("nfs timeout".into()))]);
    let err = plugin.process(Exchange::new(body)).await.unwrap_err();
    assert!(err.to_string().contains("nfs timeout"), "{err}");
    within_2s(|| plugin.streams_in_flight() == 0).await;
    assert_eq!(plugin.idle_instances(), 1, "every case ended cleanly: one instance throughout");
}

#[tokio::test]
async fn rust_camels_emit_stream_bean_runs_unchanged() {
    let bean = camel_wasm::Bean::load(runtime(), &guest("rc-emit-stream"), camel_wasm::Limits::default(), vec![]).await.unwrap();
    let out = bean.invoke("emit_stream", Exchange::new("")).await.unwrap();
    let stream = out.input.body.as_stream().expect("the bean's stream, in the input body");
    assert_eq!((stream.size_hint, stream.origin.as_deref()), (Some(25), Some("bean://emit_stream")));
    assert_eq!(stream.read_all(100).await.unwrap(), Bytes::from("data\n".repeat(5)));

    let out = bean.invoke("emit_stream_fail", Exchange::new("")).await.unwrap();
    let (bytes, error) = drain(&out.input.body).await;
    assert_eq!(bytes, b"partial");
    assert!(error.unwrap().to_string().contains("bean requested failure after partial emit"));

    let out = bean.invoke("emit_stream_slow", Exchange::new("")).await.unwrap();
    let (bytes, error) = drain(&out.input.body).await;
    assert_eq!((bytes.len(), error), (80, None));
    assert!(bytes.chunks(4).enumerate().all(|(i, c)| c == [i as u8; 4]));

    let body = chunks((0..10).map(|_| Ok(Bytes::from_static(&[1u8; 1000]))).collect());
    let out = bean.invoke("count", Exchange::new(body)).await.unwrap();
    assert_eq!(out.input.body.as_text(), Some("streamed 10000 bytes"));
    within_2s(|| bean.streams_in_flight() == 0).await;
}

#[tokio::test]
async fn the_sdk_bean_streams_both_ways() {
    let bean = camel_wasm::Bean::load(runtime(), &guest("stream-bean"), camel_wasm::Limits::default(), vec![]).await.unwrap();
    let out = bean.invoke("emit_stream", Exchange::new("")).await.unwrap();
    let emitted = out.input.body.as_stream().expect("a stream").clone();
    // The emitted stream goes straight back in: counted without being held.
    let out = bean.invoke("count_stream", Exchange::new(Body::Stream(emitted))).await.unwrap();
    assert_eq!(out.input.body.as_text(), Some("streamed 25 bytes"));
}

#[tokio::test]
async fn a_guest_that_leaves_the_body_alone_passes_the_stream_through_unread() {
    // `props` never touches the body: the stream it was handed goes back out
    // as its result and is drained by the caller, byte for byte.
    let plugin = endpoint("props", "max-memory=16777216");
    let body = chunks((0..40).map(|i| Ok(Bytes::from(vec![i as u8; 100_000]))).collect());
    let out = plugin.process(Exchange::new(body)).await.unwrap();
    assert_eq!(out.property("props.returned"), Some(&json!("yes")));
    let (bytes, error) = drain(&out.input.body).await;
    assert_eq!((bytes.len(), error), (4_000_000, None));
    assert!(bytes.chunks(100_000).enumerate().all(|(i, c)| c.iter().all(|b| *b == i as u8)));
    within_2s(|| plugin.streams_in_flight() == 0).await;
    assert_eq!(plugin.idle_instances(), 1);
}
