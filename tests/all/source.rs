//! The `source` world through real guests, with a real HTTP client on loopback.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use camel_wasm::{Body, Exchange, Limits, RunningSource, Source, SourceError, SourceOptions, WasmError};
use futures::StreamExt;
use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::Sha256;

use crate::fixture::{guest, runtime};

/// What the application saw: each submitted exchange, its stream body read whole.
#[derive(Clone, Default)]
pub struct Seen(pub Arc<Mutex<Vec<Received>>>);

/// An exchange the route got, with its body's bytes.
pub type Received = (Exchange, Vec<u8>);

impl Seen {
    /// Waits (at most 5 s) until the application has seen `n` exchanges, then gives them.
    pub async fn at_least(&self, n: usize) -> Vec<Received> {
        let started = Instant::now();
        while self.0.lock().unwrap().len() < n && started.elapsed() < Duration::from_secs(5) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        self.all()
    }

    pub fn all(&self) -> Vec<Received> {
        self.0.lock().unwrap().iter().map(|(e, b)| (e.clone(), b.clone())).collect()
    }
}

/// An application that records each exchange (draining a stream body) and answers with `reply`.
pub fn recorder(
    seen: Seen,
    reply: fn(Exchange) -> Exchange,
) -> impl tower::Service<Exchange, Response = Exchange, Error = camel_wasm::BoxError, Future: Send> + Clone + Send + Sync + 'static
{
    tower::service_fn(move |exchange: Exchange| {
        let seen = seen.clone();
        async move {
            let bytes = match exchange.input.body.as_stream() {
                Some(stream) => {
                    let mut chunks = stream.take().expect("a fresh stream");
                    let mut all = Vec::new();
                    while let Some(chunk) = chunks.next().await {
                        all.extend_from_slice(&chunk?);
                    }
                    all
                }
                None => Vec::new(),
            };
            seen.0.lock().unwrap().push((exchange.clone(), bytes));
            if exchange.header("x-path") == Some(&json!("/wait")) {
                tokio::time::sleep(Duration::from_millis(1500)).await;
            }
            Ok::<_, camel_wasm::BoxError>(reply(exchange))
        }
    })
}

pub fn unchanged(exchange: Exchange) -> Exchange {
    exchange
}

pub fn options(path: Option<&str>) -> SourceOptions {
    SourceOptions { path: path.map(str::to_owned), ..SourceOptions::public("127.0.0.1:0".parse().unwrap()) }
}

pub async fn start(name: &str, options: SourceOptions, config: &[(&str, &str)], seen: &Seen) -> RunningSource {
    start_with(name, Limits::default(), options, config, seen, unchanged).await
}

pub async fn start_with(
    name: &str,
    limits: Limits,
    options: SourceOptions,
    config: &[(&str, &str)],
    seen: &Seen,
    reply: fn(Exchange) -> Exchange,
) -> RunningSource {
    let source = Source::load(runtime(), &guest(name), limits, options).unwrap();
    let config = config.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    source.start(config, recorder(seen.clone(), reply)).await.unwrap()
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder().timeout(Duration::from_secs(20)).build().unwrap()
}

pub fn url(source: &RunningSource, path: &str) -> String {
    format!("http://{}{path}", source.local_addr())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_webhook_post_becomes_an_exchange_and_a_bad_signature_is_refused() {
    let seen = Seen::default();
    let source = start("webhook-source", options(Some("/hook")), &[("secret", "s3cret")], &seen).await;
    let payload = r#"{"event":"order.paid","id":7}"#;
    let mut mac = Hmac::<Sha256>::new_from_slice(b"s3cret").unwrap();
    mac.update(payload.as_bytes());
    let signature: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
    let response = client()
        .post(url(&source, "/hook"))
        .header("x-signature", format!("sha256={signature}"))
        .body(payload)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    let bad = client().post(url(&source, "/hook")).header("x-signature", "sha256=00").body(payload).send().await.unwrap();
    assert_eq!(bad.status(), 401);
    assert_eq!(bad.text().await.unwrap(), "bad signature");
    source.stop().await.unwrap();
    let all = seen.at_least(1).await;
    assert_eq!(all.len(), 1, "only the signed request reached the application");
    let (exchange, _) = &all[0];
    assert_eq!(exchange.header("x-event"), Some(&json!("order.paid")));
    assert_eq!(exchange.input.body, Body::Json(json!({"event": "order.paid", "id": 7})));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_64_mib_body_streams_through_a_guest_capped_at_16_mib() {
    let seen = Seen::default();
    let limits = Limits { max_memory: 16 << 20, ..Limits::default() };
    let source = start_with("stream-source", limits, options(None), &[], &seen, unchanged).await;
    let chunk = Bytes::from(vec![b'k'; 1 << 20]);
    let body = futures::stream::iter((0..64).map(move |_| Ok::<_, std::io::Error>(chunk.clone())));
    let response = client().post(url(&source, "/upload")).body(reqwest::Body::wrap_stream(body)).send().await.unwrap();
    assert_eq!(response.status(), 202);
    let all = seen.at_least(1).await;
    source.stop().await.unwrap();
    assert_eq!(all.len(), 1);
    let (exchange, bytes) = &all[0];
    assert_eq!(exchange.header("x-source"), Some(&json!("stream-source")));
    assert_eq!(bytes.len(), 64 << 20);
    assert!(bytes.iter().all(|b| *b == b'k'));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_served_path_reaches_the_guest() {
    let seen = Seen::default();
    let source = start("trap-source", options(Some("/hook")), &[], &seen).await;
    let other = client().post(url(&source, "/other")).body("x").send().await.unwrap();
    assert_eq!(other.status(), 404);
    let hook = client().post(url(&source, "/hook")).body("x").send().await.unwrap();
    assert_eq!(hook.status(), 202);
    source.stop().await.unwrap();
    assert_eq!(seen.at_least(1).await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_8_handles_eight_slow_uploads_at_once() {
    let seen = Seen::default();
    let source = start("concurrent-source", options(None), &[("concurrency", "8")], &seen).await;
    let started = Instant::now();
    let uploads: Vec<_> = (0..8)
        .map(|i| {
            let url = url(&source, "/up");
            tokio::spawn(async move {
                // Each body arrives over 400 ms: one at a time would take 3.2 s.
                let parts = futures::stream::iter(0..4).then(move |n| async move {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    Ok::<_, std::io::Error>(Bytes::from(format!("{i}:{n};")))
                });
                client().post(url).body(reqwest::Body::wrap_stream(parts)).send().await.unwrap().status()
            })
        })
        .collect();
    for upload in uploads {
        assert_eq!(upload.await.unwrap(), 202);
    }
    let took = started.elapsed();
    assert!(took < Duration::from_millis(1600), "eight uploads overlapped: {took:?}");
    source.stop().await.unwrap();
    let all = seen.at_least(8).await;
    assert_eq!(all.len(), 8, "none lost");
    assert!(all.iter().all(|(e, _)| e.header("x-handled-by") == Some(&json!("concurrent-source"))));
}

fn reply_201(mut exchange: Exchange) -> Exchange {
    let text = exchange.input.body.as_text().unwrap_or_default().to_string();
    exchange.input.headers.insert("camel.http.response-code".into(), json!(201));
    exchange.input.headers.insert("x-reply".into(), json!("yes"));
    exchange.input.body = Body::Text(format!("hello {text}"));
    exchange
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_reply_answers_with_the_routes_result() {
    let seen = Seen::default();
    let source = start_with("reply-source", Limits::default(), options(None), &[], &seen, reply_201).await;
    for name in ["ada", "bob"] {
        let response = client().post(url(&source, "/greet")).body(name).send().await.unwrap();
        assert_eq!(response.status(), 201);
        assert_eq!(response.headers().get("x-reply").unwrap(), "yes");
        assert!(response.headers().get("camel.http.response-code").is_none(), "camel headers stay inside");
        assert_eq!(response.text().await.unwrap(), format!("hello {name}"));
    }
    source.stop().await.unwrap();
    assert_eq!(seen.all().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_while_a_request_is_in_flight_answers_it_and_returns_promptly() {
    let seen = Seen::default();
    // The route takes 1.5 s for `/wait` (see `recorder`).
    let source = start("reply-source", options(None), &[], &seen).await;
    let request = tokio::spawn(client().post(url(&source, "/wait")).body("x").send());
    tokio::time::sleep(Duration::from_millis(300)).await;
    let stopping = Instant::now();
    source.stop().await.unwrap();
    assert!(stopping.elapsed() < Duration::from_secs(2), "stop took {:?}", stopping.elapsed());
    let response = request.await.unwrap().unwrap();
    assert_eq!(response.status(), 503, "answered, not left hanging");
    // The exchange was handed over before the stop: the route got it.
    assert_eq!(seen.at_least(1).await.len(), 1, "no exchange lost");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_port_in_use_is_a_start_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    let options = SourceOptions::public(addr);
    let source = Source::load(runtime(), &guest("trap-source"), Limits::default(), options).unwrap();
    let err = source.start(vec![], recorder(Seen::default(), unchanged)).await.unwrap_err();
    assert!(matches!(&err, SourceError::Bind { addr: a, .. } if *a == addr.to_string()), "{err:?}");
    assert!(err.to_string().contains(&format!("cannot listen on {addr}")), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guest_that_traps_in_run_is_restarted() {
    let seen = Seen::default();
    let source = start("trap-source", options(None), &[], &seen).await;
    let boom = client().post(url(&source, "/boom")).body("x").send().await.unwrap();
    assert_eq!(boom.status(), 503, "the request the guest died on is answered");
    // Back-off, then a fresh instance serves again.
    let started = Instant::now();
    let ok = loop {
        let response = client().post(url(&source, "/ok")).body("y").send().await.unwrap();
        if response.status() == 202 || started.elapsed() > Duration::from_secs(5) {
            break response;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(ok.status(), 202);
    assert_eq!(source.restarts(), 1);
    assert!(source.last_error().unwrap().contains("trap-source: boom"), "{:?}", source.last_error());
    let all = seen.at_least(1).await;
    source.stop().await.unwrap();
    assert_eq!(all.last().unwrap().0.header("x-served"), Some(&json!(1)), "a new instance");
}

/// Waits (bounded) until the source has restarted its guest `n` times.
async fn restarted(source: &RunningSource, n: u64) {
    let started = Instant::now();
    while source.restarts() < n && started.elapsed() < Duration::from_secs(5) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(source.restarts(), n, "{:?}", source.last_error());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_source_guests_traps_are_classified_like_every_worlds() {
    let seen = Seen::default();
    let limits = Limits { max_memory: 16 << 20, ..Limits::default() };
    let source = start_with("trap-source", limits, options(None), &[], &seen, unchanged).await;
    let oom = client().post(url(&source, "/oom")).body("x").send().await.unwrap();
    assert_eq!(oom.status(), 503, "the request the guest died on is answered");
    assert_eq!(oom.text().await.unwrap(), "the source's guest failed; it is restarted", "no internals to the client");
    restarted(&source, 1).await;
    assert!(
        source.last_error().unwrap().contains("ran out of memory (max-memory is 16777216 bytes)"),
        "{:?}",
        source.last_error()
    );
    let failure = source.last_failure();
    assert!(
        matches!(&failure, Some(WasmError::OutOfMemory { max_memory_bytes, .. }) if *max_memory_bytes == 16 << 20),
        "{failure:?}"
    );
    let boom = client().post(url(&source, "/boom")).body("x").send().await.unwrap();
    assert_eq!(boom.status(), 503);
    restarted(&source, 2).await;
    let failure = source.last_failure();
    assert!(matches!(&failure, Some(WasmError::GuestPanic { message, .. }) if message == "trap-source: boom"), "{failure:?}");
    source.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bind_the_guest_disagrees_with_is_refused_naming_both() {
    let options = SourceOptions::public("127.0.0.1:18081".parse().unwrap());
    let source = Source::load(runtime(), &guest("trap-source"), Limits::default(), options).unwrap();
    let config = vec![("bind".to_string(), "127.0.0.1:18082".to_string())];
    let err = source.start(config, recorder(Seen::default(), unchanged)).await.unwrap_err();
    assert!(matches!(err, SourceError::Mismatch { what: "bind", .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.contains("127.0.0.1:18081") && text.contains("127.0.0.1:18082"), "{text}");
    // A public address needs the opt-in.
    let public = SourceOptions::public("0.0.0.0:0".parse().unwrap());
    let source = Source::load(runtime(), &guest("trap-source"), Limits::default(), public).unwrap();
    let err = source.start(vec![], recorder(Seen::default(), unchanged)).await.unwrap_err();
    assert!(err.to_string().contains("allow-public-bind=true"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversize_body_gets_413() {
    let seen = Seen::default();
    let options = SourceOptions { max_body_bytes: Some(1000), ..options(None) };
    let source = start("stream-source", options.clone(), &[], &seen).await;
    // A declared length over the limit: refused before the guest sees it.
    let declared = client().post(url(&source, "/big")).body(vec![b'x'; 5000]).send().await.unwrap();
    assert_eq!(declared.status(), 413);
    let small = client().post(url(&source, "/small")).body("fits").send().await.unwrap();
    assert_eq!(small.status(), 202);
    assert_eq!(seen.at_least(1).await.len(), 1);
    source.stop().await.unwrap();
    // No declared length: the body stream is cut at the limit while a guest reads it.
    let source = start("reply-source", options, &[], &seen).await;
    let chunked = futures::stream::iter((0..5).map(|_| Ok::<_, std::io::Error>(Bytes::from(vec![b'y'; 1000]))));
    let streamed = client().post(url(&source, "/big")).body(reqwest::Body::wrap_stream(chunked)).send().await.unwrap();
    assert_eq!(streamed.status(), 413);
    source.stop().await.unwrap();
    assert_eq!(seen.all().len(), 1, "the cut body never reached the route");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_camels_webhook_source_runs_unchanged() {
    let seen = Seen::default();
    let source = start("rc-webhook-source", options(Some("/webhook")), &[], &seen).await;
    let response = client().post(url(&source, "/webhook")).header("x-vendor", "acme").body("ping").send().await.unwrap();
    assert_eq!(response.status(), 202);
    source.stop().await.unwrap();
    let all = seen.at_least(1).await;
    assert_eq!(all.len(), 1);
    let (exchange, _) = &all[0];
    assert_eq!(exchange.input.body, Body::Bytes(b"ping".to_vec()));
    assert_eq!(exchange.header("x-vendor"), Some(&json!("acme")));
    assert_eq!(exchange.property("camel.http.path"), Some(&json!("/webhook")));
}
