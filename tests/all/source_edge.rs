//! The source edge against hostile clients: real listeners on loopback, raw
//! TCP sockets and real HTTP clients, every attack bounded in count and time.
//! Each test asserts that a normal request is still answered, and that
//! nothing is left open or delivered that should not be.

use std::time::{Duration, Instant};

use camel_wasm::{Body, Exchange, Limits, Plugin, SourceError, SourceOptions};
use futures::StreamExt;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::edge::{self, exchange_raw};
use crate::fixture::{eventually, guest, runtime};
use crate::source::{Seen, client, recorder, start_with, unchanged, url};

/// The limits and options of a `wasm:` URI's query (the plugin path is the test's).
fn parse(query: &str) -> (Limits, SourceOptions) {
    let (uri, options) = SourceOptions::parse_uri(&format!("wasm:x.wasm?{query}"), Limits::default()).unwrap();
    (uri.limits, options)
}

/// Descriptors this process has open.
fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map(|d| d.count()).unwrap_or(0)
}

/// This process's resident memory, in MiB.
fn resident_mib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib =
        status.lines().find_map(|l| l.strip_prefix("VmRSS:")).and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok());
    kib.unwrap_or(0) / 1024
}

/// Whether the server closed `stream` (it reads an end, an error, or a last answer then the end) within `within`.
async fn closed_by_server(stream: &mut TcpStream, within: Duration) -> bool {
    let mut buf = vec![0u8; 4096];
    let deadline = Instant::now() + within;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, stream.read(&mut buf)).await {
            Ok(Ok(0) | Err(_)) => return true,
            Ok(Ok(_)) => continue,
            Err(_) => return false,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slowloris_heads_are_cut_off_and_a_normal_request_is_still_answered() {
    let seen = Seen::default();
    let (limits, options) =
        parse("bind=127.0.0.1:0&auth=none&header-read-timeout=1&keep-alive-timeout=2&max-connections=100&max-header-bytes=16384");
    let source = start_with("reply-source", limits, options, &[], &seen, unchanged).await;
    let (fds, rss) = (open_fds(), resident_mib());
    // 400 connections (4× max-connections), each with an unfinished head of 8 KiB.
    let mut attackers = Vec::new();
    for _ in 0..400 {
        let Ok(mut stream) = TcpStream::connect(source.local_addr()).await else { continue };
        let _ = stream.write_all(b"POST / HTTP/1.1\r\nhost: x\r\nx-pad: ").await;
        let _ = stream.write_all(&[b'a'; 8 * 1024]).await;
        attackers.push(stream);
    }
    assert!(attackers.len() >= 300, "the attack connected");
    assert!(source.open_connections() <= 100, "{} open, over max-connections", source.open_connections());
    // During the attack, a normal request is answered.
    let response = client().post(url(&source, "/during")).body("hi").send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), "hi");
    // A head over max-header-bytes is refused.
    let mut big = TcpStream::connect(source.local_addr()).await.unwrap();
    let head = format!("GET / HTTP/1.1\r\nhost: x\r\nx-pad: {}\r\n\r\n", "a".repeat(20_000));
    let answer = exchange_raw(&mut big, head.as_bytes()).await;
    assert!(answer.starts_with("HTTP/1.1 431"), "{answer}");
    // Every attacker is disconnected by header-read-timeout (or to make room).
    for attacker in &mut attackers {
        assert!(closed_by_server(attacker, Duration::from_secs(4)).await, "an unfinished head stayed open");
    }
    drop(attackers);
    drop(big);
    assert!(eventually(Duration::from_secs(4), || source.open_connections() == 0).await, "{} open", source.open_connections());
    let response = client().post(url(&source, "/after")).body("again").send().await.unwrap();
    assert_eq!(response.status(), 200);
    // The bounds hold for the whole test process, whose other tests run alongside: a leak here would be hundreds.
    assert!(eventually(Duration::from_secs(4), || open_fds() <= fds + 100).await, "descriptors: {} then {}", fds, open_fds());
    assert!(resident_mib() < rss + 512, "resident grew from {rss} MiB to {} MiB", resident_mib());
    source.stop().await.unwrap();
    assert_eq!(seen.all().len(), 2, "only the two normal requests reached the route");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_max_connections_the_idlest_is_closed_and_busy_ones_refuse_the_newcomer() {
    let seen = Seen::default();
    let (limits, options) = parse("bind=127.0.0.1:0&auth=none&max-connections=4&body-timeout=3&request-timeout=4");
    let source = start_with("reply-source", limits, options, &[], &seen, unchanged).await;
    // Four idle connections: a fifth (a real client) closes the idlest and is served.
    let mut idle = Vec::new();
    for _ in 0..4 {
        idle.push(TcpStream::connect(source.local_addr()).await.unwrap());
    }
    assert!(eventually(Duration::from_secs(2), || source.open_connections() == 4).await);
    let response = client().post(url(&source, "/in")).body("fits").send().await.unwrap();
    assert_eq!(response.status(), 200, "an idle connection made room");
    let mut closed = 0;
    for stream in &mut idle {
        closed += usize::from(closed_by_server(stream, Duration::from_millis(300)).await);
    }
    assert!(closed >= 1, "the idlest connection was closed");
    drop(idle);
    assert!(eventually(Duration::from_secs(2), || source.open_connections() <= 1).await);
    // Four connections each in a request (a body that never comes): a fifth is refused at once.
    let mut busy = Vec::new();
    for _ in 0..4 {
        let mut stream = TcpStream::connect(source.local_addr()).await.unwrap();
        stream.write_all(b"POST /slow HTTP/1.1\r\nhost: x\r\ncontent-length: 10\r\n\r\nx").await.unwrap();
        busy.push(stream);
    }
    assert!(eventually(Duration::from_secs(2), || source.open_connections() == 4).await, "{}", source.open_connections());
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = Instant::now();
    let mut newcomer = TcpStream::connect(source.local_addr()).await.unwrap();
    let answer = exchange_raw(&mut newcomer, b"GET / HTTP/1.1\r\nhost: x\r\n\r\n").await;
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.contains("max-connections"), "{answer}");
    assert!(started.elapsed() < Duration::from_secs(2), "refused at once, not queued");
    // The busy ones end by body-timeout (408) or request-timeout (504); then the listener serves again.
    for stream in &mut busy {
        let mut answer = String::new();
        let _ = tokio::time::timeout(Duration::from_secs(8), stream.read_to_string(&mut answer)).await;
        assert!(answer.starts_with("HTTP/1.1 408") || answer.starts_with("HTTP/1.1 504"), "{answer}");
    }
    drop(busy);
    let response = client().post(url(&source, "/in")).body("again").send().await.unwrap();
    assert_eq!(response.status(), 200);
    source.stop().await.unwrap();
    assert_eq!(seen.all().len(), 2, "none of the cut requests reached the route");
}

/// A route that answers after `x-wait-ms` (a header the client sends), echoing the exchange.
fn slow_echo(
    seen: Seen,
) -> impl tower::Service<Exchange, Response = Exchange, Error = camel_wasm::BoxError, Future: Send> + Clone + Send + Sync + 'static
{
    tower::service_fn(move |exchange: Exchange| {
        let seen = seen.clone();
        async move {
            seen.0.lock().unwrap().push((exchange.clone(), Vec::new()));
            let wait = exchange.header("x-wait-ms").and_then(|v| v.as_u64().or_else(|| v.as_str()?.parse().ok())).unwrap_or(0);
            tokio::time::sleep(Duration::from_millis(wait)).await;
            Ok::<_, camel_wasm::BoxError>(exchange)
        }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_request_id_cannot_take_another_clients_response() {
    // rust-camel style (raw bindings): concurrent(2), in-out, the header list copied as it is, no correlation id.
    let seen = Seen::default();
    let (limits, options) = parse("bind=127.0.0.1:0&auth=none&request-timeout=10");
    let source = camel_wasm::Source::load(runtime(), &guest("rc-relay-source"), limits, options).unwrap();
    let source = source.start(vec![], slow_echo(seen.clone())).await.unwrap();
    // The victim's body takes a while to arrive: its request is pending (accepted, not submitted) meanwhile.
    let slow = futures::stream::iter(["vic", "tim"]).then(|part| async move {
        tokio::time::sleep(Duration::from_millis(400)).await;
        Ok::<_, std::io::Error>(bytes::Bytes::from(part))
    });
    let victim = client()
        .post(url(&source, "/pay"))
        .header("authorization", "Bearer victim-secret")
        .header("x-wait-ms", "10")
        .body(reqwest::Body::wrap_stream(slow))
        .send();
    let victim = tokio::spawn(victim);
    tokio::time::sleep(Duration::from_millis(150)).await;
    let mut attackers = Vec::new();
    for forged in ["1", "2", "0000000000000000-1"] {
        let attacker = client()
            .post(url(&source, "/pay"))
            .header("camel-wasm-request-id", forged)
            .header("Camel-Wasm-Request-Id", forged)
            .header("x-wait-ms", "10")
            .body(format!("attacker {forged}"))
            .send();
        attackers.push((forged, tokio::spawn(attacker)));
    }
    for (forged, attacker) in attackers {
        let response = attacker.await.unwrap().unwrap();
        assert_eq!(response.status(), 200);
        assert!(response.headers().get("authorization").is_none(), "the victim's credential leaked");
        assert_eq!(response.text().await.unwrap(), format!("attacker {forged}"), "the attacker got its own answer only");
    }
    let victim = victim.await.unwrap().unwrap();
    assert_eq!(victim.status(), 200);
    assert_eq!(victim.text().await.unwrap(), "victim");
    source.stop().await.unwrap();
    for (exchange, _) in seen.all() {
        let ids: Vec<_> = exchange.input.headers.keys().filter(|k| k.to_ascii_lowercase().starts_with("camel")).collect();
        assert_eq!(ids, ["camel-wasm-request-id"], "only the host's own camel header: {ids:?}");
        let id = exchange.header("camel-wasm-request-id").unwrap().as_str().unwrap().to_string();
        assert!(id.len() > 17 && !["1", "2", "0000000000000000-1"].contains(&id.as_str()), "a host id: {id}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_set_internal_headers_never_steer_the_host_nor_come_back() {
    let seen = Seen::default();
    let (limits, options) = parse("bind=127.0.0.1:0&auth=none");
    let source = start_with("reply-source", limits, options, &[], &seen, unchanged).await;
    let response = client()
        .post(url(&source, "/in"))
        .header("camel-wasm-reply", "direct")
        .header("camel.http.response-code", "299")
        .header("CamelHttpResponseCode", "101")
        .header("location", "https://evil.test/")
        .header("set-cookie", "session=stolen")
        .body("payload")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "the client's code was ignored");
    for reflected in ["location", "set-cookie", "camel-wasm-reply", "camel.http.response-code"] {
        assert!(response.headers().get(reflected).is_none(), "{reflected} was reflected");
    }
    assert_eq!(response.text().await.unwrap(), "payload");
    let all = seen.at_least(1).await;
    assert_eq!(all.len(), 1, "the route ran: the direct-reply header was the client's");
    assert!(all[0].0.header("camel-wasm-reply").is_none() && all[0].0.header("camel.http.response-code").is_none());
    // A 101 header pipelined in front of a second request: both are answered, no protocol switch.
    let mut stream = TcpStream::connect(source.local_addr()).await.unwrap();
    let pipelined = b"GET /a HTTP/1.1\r\nhost: x\r\ncamel.http.response-code: 101\r\n\r\nGET /b HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n";
    let answer = exchange_raw(&mut stream, pipelined).await;
    assert_eq!(answer.matches("HTTP/1.1 200").count(), 2, "{answer}");
    assert!(!answer.contains("101"), "{answer}");
    source.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_route_may_answer_200_to_599_only() {
    fn code(code: u64) -> impl Fn(Exchange) -> Exchange + Clone {
        move |mut exchange: Exchange| {
            exchange.input.headers.insert("camel.http.response-code".into(), json!(code));
            exchange
        }
    }
    for (asked, answered) in [(101, 500), (299, 299), (600, 500), (404, 404)] {
        let (limits, options) = parse("bind=127.0.0.1:0&auth=none");
        let source = camel_wasm::Source::load(runtime(), &guest("reply-source"), limits, options).unwrap();
        let reply = code(asked);
        let service =
            tower::service_fn(move |exchange: Exchange| std::future::ready(Ok::<_, camel_wasm::BoxError>(reply(exchange))));
        let source = source.start(vec![], service).await.unwrap();
        let response = client().post(url(&source, "/")).body("x").send().await.unwrap();
        assert_eq!(response.status().as_u16(), answered, "a route asking for {asked}");
        source.stop().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trickled_body_is_cut_at_body_timeout_and_never_delivered() {
    let seen = Seen::default();
    let (limits, options) = parse("bind=127.0.0.1:0&auth=none&body-timeout=1&request-timeout=6");
    let source = start_with("reply-source", limits, options, &[], &seen, unchanged).await;
    let addr = source.local_addr();
    let trickle = tokio::spawn(async move {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream.write_all(b"POST /trickle HTTP/1.1\r\nhost: x\r\ncontent-length: 50\r\n\r\n").await.unwrap();
        let started = Instant::now();
        // A byte every 300 ms (under any idle timeout), for at most 5 s, until answered.
        let mut answer = vec![0u8; 1024];
        for _ in 0..16 {
            if stream.write_all(b"x").await.is_err() {
                break;
            }
            if let Ok(Ok(n)) = tokio::time::timeout(Duration::from_millis(300), stream.read(&mut answer)).await {
                return (String::from_utf8_lossy(&answer[..n]).into_owned(), started.elapsed());
            }
        }
        (String::new(), started.elapsed())
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = Instant::now();
    let normal = client().post(url(&source, "/normal")).body("ok").send().await.unwrap();
    assert_eq!(normal.status(), 200);
    assert!(started.elapsed() < Duration::from_secs(3), "the normal request waited {:?}", started.elapsed());
    let (answer, took) = trickle.await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(took < Duration::from_secs(3), "cut after {took:?}");
    source.stop().await.unwrap();
    let all = seen.all();
    assert_eq!(all.len(), 1, "only the normal request reached the route");
    assert_eq!(all[0].0.input.body, Body::Text("ok".into()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_answered_504_are_never_delivered_to_the_route() {
    let seen = Seen::default();
    let (mut limits, options) = parse("bind=127.0.0.1:0&auth=none&request-timeout=1");
    limits.max_concurrent = 1;
    let source = camel_wasm::Source::load(runtime(), &guest("reply-source"), limits, options).unwrap();
    let source = source.start(vec![], slow_echo(seen.clone())).await.unwrap();
    let mut calls = Vec::new();
    for i in 0..4 {
        let call = client().post(url(&source, "/slow")).header("x-wait-ms", "2500").body(format!("call {i}")).send();
        calls.push(tokio::spawn(call));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for call in calls {
        assert_eq!(call.await.unwrap().unwrap().status(), 504);
    }
    // Long enough for every queued exchange to have run, had it been delivered.
    tokio::time::sleep(Duration::from_millis(3000)).await;
    let delivered = seen.all().len();
    source.stop().await.unwrap();
    assert_eq!(delivered, 1, "only the exchange already in the route when its client got 504");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stops_reading_frees_the_instance_and_its_slot() {
    // The route's step returns a stream body (stream-gen): 2 call slots, idle after 1 s.
    let plugin_limits = Limits {
        max_concurrent: 2,
        stream_idle_timeout: Duration::from_secs(1),
        timeout: Duration::from_secs(5),
        ..Default::default()
    };
    let generator = Plugin::load(runtime(), &guest("stream-gen"), plugin_limits).unwrap();
    let step = generator.clone();
    let route = tower::service_fn(move |exchange: Exchange| {
        let step = step.clone();
        async move { step.process(exchange).await.map_err(|e| Box::new(e) as camel_wasm::BoxError) }
    });
    let (limits, options) = parse("bind=127.0.0.1:0&auth=none&stream-idle-timeout=1");
    let source = camel_wasm::Source::load(runtime(), &guest("reply-source"), limits, options).unwrap();
    let source = source.start(vec![], route).await.unwrap();
    // Two clients read the response head of 64 MiB, then stop reading.
    let mut stalled = Vec::new();
    for _ in 0..2 {
        let mut stream = TcpStream::connect(source.local_addr()).await.unwrap();
        stream
            .write_all(b"POST /gen HTTP/1.1\r\nhost: x\r\nx-stream-bytes: 67108864\r\ncontent-length: 0\r\n\r\n")
            .await
            .unwrap();
        let mut head = vec![0u8; 1024];
        let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut head)).await.unwrap().unwrap();
        assert!(String::from_utf8_lossy(&head[..n]).starts_with("HTTP/1.1 200"));
        stalled.push(stream);
    }
    // A new caller of the step gets a slot once the stalled streams fail (stream-idle-timeout), not never.
    let started = Instant::now();
    let mut exchange = Exchange::new(Body::Empty);
    exchange.input.headers.insert("x-stream-bytes".into(), json!(1000));
    let out = tokio::time::timeout(Duration::from_secs(6), generator.process(exchange)).await.expect("a slot, in time").unwrap();
    assert!(started.elapsed() < Duration::from_secs(4), "waited {:?} for a slot", started.elapsed());
    let stream = out.input.body.as_stream().or(out.output.as_ref().and_then(|m| m.body.as_stream())).cloned();
    let mut chunks = stream.expect("a stream body").take().unwrap();
    let mut got = 0;
    while let Some(chunk) = futures::StreamExt::next(&mut chunks).await {
        got += chunk.unwrap().len();
    }
    assert_eq!(got, 1000);
    drop(stalled);
    assert!(eventually(Duration::from_secs(4), || generator.streams_in_flight() == 0).await, "the stalled drains ended");
    source.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiting_for_a_call_slot_is_bounded_by_the_calls_timeout() {
    let limits = Limits {
        max_concurrent: 1,
        timeout: Duration::from_millis(800),
        stream_idle_timeout: Duration::from_secs(60),
        ..Default::default()
    };
    let generator = Plugin::load(runtime(), &guest("stream-gen"), limits).unwrap();
    // A stream that stalls holds the only slot.
    let mut stall = Exchange::new(Body::Empty);
    stall.input.headers.insert("x-stall-after-bytes".into(), json!(10));
    let held = generator.process(stall).await.unwrap();
    let started = Instant::now();
    let err = generator.process(Exchange::new(Body::Empty)).await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(3), "waited {:?}", started.elapsed());
    assert!(matches!(&err, camel_wasm::WasmError::Busy { max_concurrent: 1, .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.contains("stream-gen") && text.contains("max-concurrent is 1"), "{text}");
    // The tower service bounds its back-pressure the same way.
    let mut service = generator.service();
    let ready = tower::ServiceExt::ready(&mut service).await;
    assert!(matches!(ready, Err(camel_wasm::WasmError::Busy { .. })), "{:?}", ready.err());
    drop(held);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_source_with_no_authentication_refuses_to_start() {
    let options = SourceOptions { bind: Some("127.0.0.1:0".parse().unwrap()), ..Default::default() };
    let source = camel_wasm::Source::load(runtime(), &guest("reply-source"), Limits::default(), options).unwrap();
    let err = source.start(vec![], recorder(Seen::default(), unchanged)).await.unwrap_err();
    assert!(matches!(err, SourceError::Auth { .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.contains("auth=jwt") && text.contains("auth=none"), "says how to configure it: {text}");
    // Half a JWT configuration is refused as well, naming what is missing.
    let (limits, options) = parse("bind=127.0.0.1:0&auth=jwt&auth-jwks=/nonexistent.json");
    let source = camel_wasm::Source::load(runtime(), &guest("reply-source"), limits, options).unwrap();
    let err = source.start(vec![], recorder(Seen::default(), unchanged)).await.unwrap_err();
    assert!(err.to_string().contains("auth-issuer"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jwt_from_a_jwks_on_loopback_lets_only_good_tokens_in_and_attaches_the_principal() {
    let jwks = edge::serve_jwks().await;
    let seen = Seen::default();
    let (limits, options) =
        parse(&format!("bind=127.0.0.1:0&{}&auth-token=bearer,query:access_token,cookie:session", edge::jwt_parameters(&jwks)));
    let source = start_with("reply-source", limits, options, &[], &seen, unchanged).await;
    let post = |token: Option<String>| {
        let request = client().post(url(&source, "/in")).body("secret payload");
        match token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    };
    let bad = [
        ("no token", None),
        ("garbage", Some("not.a.jwt".to_string())),
        ("forged", Some(edge::token_with(edge::forger(), "mallory", &[], json!({})))),
        ("expired", Some(edge::expired_token("alice"))),
        ("wrong audience", Some(edge::token_with(edge::key(), "alice", &[], json!({"aud": "someone-else"})))),
        ("wrong issuer", Some(edge::token_with(edge::key(), "alice", &[], json!({"iss": "https://other.test"})))),
    ];
    for (what, token) in bad {
        let response = post(token).send().await.unwrap();
        assert_eq!(response.status(), 401, "{what}");
        assert_eq!(response.headers()["www-authenticate"], "Bearer", "{what}");
    }
    assert!(seen.all().is_empty(), "no refused request reached the guest's route");
    let response = post(Some(edge::token("alice", &["admin"]))).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), "secret payload");
    // The token may come from the query or a cookie as configured.
    let by_query = client()
        .post(format!("{}?access_token={}", url(&source, "/in"), edge::token("bob", &[])))
        .body("q")
        .send()
        .await
        .unwrap();
    assert_eq!(by_query.status(), 200);
    let by_cookie = client()
        .post(url(&source, "/in"))
        .header("cookie", format!("theme=dark; session={}", edge::token("carol", &[])))
        .body("c")
        .send()
        .await
        .unwrap();
    assert_eq!(by_cookie.status(), 200);
    source.stop().await.unwrap();
    let all = seen.all();
    assert_eq!(all.len(), 3);
    let subjects: Vec<_> = all.iter().map(|(e, _)| e.property("camel.auth.subject").cloned()).collect();
    assert_eq!(subjects, [Some(json!("alice")), Some(json!("bob")), Some(json!("carol"))]);
    assert_eq!(all[0].0.property("camel.auth.roles"), Some(&json!("[\"admin\"]")));
    assert_eq!(all[0].0.property("camel.auth.issuer"), Some(&json!(edge::ISSUER)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_jwks_file_works_too_and_a_refused_request_body_is_never_read() {
    let dir = std::env::temp_dir().join(format!("camel-wasm-jwks-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("jwks.json");
    std::fs::write(&file, edge::key().jwks.to_string()).unwrap();
    let seen = Seen::default();
    let query = format!(
        "bind=127.0.0.1:0&auth=jwt&auth-jwks={}&auth-issuer={}&auth-audience={}",
        file.display(),
        edge::ISSUER,
        edge::AUDIENCE
    );
    let (limits, options) = parse(&query);
    let source = start_with("reply-source", limits, options, &[], &seen, unchanged).await;
    // A declared 1 GiB body without a token: 401 at once, the body never read.
    let mut stream = TcpStream::connect(source.local_addr()).await.unwrap();
    let started = Instant::now();
    let answer = exchange_raw(&mut stream, b"POST /in HTTP/1.1\r\nhost: x\r\ncontent-length: 1073741824\r\n\r\n").await;
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
    assert!(started.elapsed() < Duration::from_secs(5));
    let ok = client().post(url(&source, "/in")).bearer_auth(edge::token("dave", &[])).body("x").send().await.unwrap();
    assert_eq!(ok.status(), 200);
    source.stop().await.unwrap();
    assert_eq!(seen.all().len(), 1);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_with_a_certificate_made_at_test_time() {
    let certificate = edge::Certificate::new();
    let seen = Seen::default();
    let query =
        format!("bind=127.0.0.1:0&auth=none&tls-cert={}&tls-key={}", certificate.cert.display(), certificate.key.display());
    let (limits, options) = parse(&query);
    let source = start_with("reply-source", limits, options, &[], &seen, unchanged).await;
    assert!(source.is_https());
    let tcp = TcpStream::connect(source.local_addr()).await.unwrap();
    let name = rustls_name("127.0.0.1");
    let mut tls = certificate.connector().connect(name, tcp).await.expect("a TLS handshake");
    let answer =
        exchange_raw(&mut tls, b"POST /tls HTTP/1.1\r\nhost: x\r\ncontent-length: 6\r\nconnection: close\r\n\r\nsecret").await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.ends_with("secret"), "{answer}");
    // Plain HTTP on the TLS port gets no answer from the route.
    let plain = reqwest::Client::builder().timeout(Duration::from_secs(5)).build().unwrap();
    assert!(plain.post(format!("http://{}/tls", source.local_addr())).body("x").send().await.is_err());
    // Half a TLS configuration is refused.
    let (limits, options) = parse(&format!("bind=127.0.0.1:0&auth=none&tls-cert={}", certificate.cert.display()));
    let half = camel_wasm::Source::load(runtime(), &guest("reply-source"), limits, options).unwrap();
    let err = half.start(vec![], recorder(Seen::default(), unchanged)).await.unwrap_err();
    assert!(matches!(err, SourceError::Tls { .. }) && err.to_string().contains("tls-key"), "{err}");
    source.stop().await.unwrap();
    assert_eq!(seen.all().len(), 1);
}

fn rustls_name(name: &str) -> tokio_rustls::rustls::pki_types::ServerName<'static> {
    tokio_rustls::rustls::pki_types::ServerName::try_from(name.to_string()).unwrap()
}

/// Reads one HTTP/1.1 response with a `content-length` body from `stream` (at most 5 s).
async fn read_response(stream: &mut TcpStream) -> String {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1024];
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            let length: usize =
                head.lines().find_map(|l| l.strip_prefix("content-length:")).and_then(|v| v.trim().parse().ok()).unwrap_or(0);
            if buf.len() >= end + 4 + length {
                return String::from_utf8_lossy(&buf[..end + 4 + length]).into_owned();
            }
        }
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, stream.read(&mut byte)).await {
            Ok(Ok(n)) if n > 0 => buf.extend_from_slice(&byte[..n]),
            _ => return String::from_utf8_lossy(&buf).into_owned(),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keep_alive_serves_many_requests_on_one_connection_and_idles_out() {
    let seen = Seen::default();
    let (limits, options) = parse("bind=127.0.0.1:0&auth=none&keep-alive-timeout=1");
    let source = start_with("reply-source", limits, options, &[], &seen, unchanged).await;
    // Twenty requests, one after the other, on one connection.
    let mut stream = TcpStream::connect(source.local_addr()).await.unwrap();
    for i in 0..20 {
        let body = format!("request {i}");
        let request = format!("POST /ka HTTP/1.1\r\nhost: x\r\ncontent-length: {}\r\n\r\n{body}", body.len());
        stream.write_all(request.as_bytes()).await.unwrap();
        let response = read_response(&mut stream).await;
        assert!(response.starts_with("HTTP/1.1 200") && response.ends_with(&body), "{response}");
    }
    assert_eq!(source.open_connections(), 1, "one connection, kept alive");
    // Idle past keep-alive-timeout: the server closes it.
    assert!(closed_by_server(&mut stream, Duration::from_secs(4)).await, "an idle keep-alive connection stayed open");
    assert!(eventually(Duration::from_secs(2), || source.open_connections() == 0).await);
    source.stop().await.unwrap();
    assert_eq!(seen.all().len(), 20);
}
