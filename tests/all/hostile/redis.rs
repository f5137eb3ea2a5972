//! Redis state against values put there by something else: a value over
//! `state-max-value-bytes` is refused without crossing the wire (Redis's
//! `total_net_output_bytes` stays flat), values of the wrong type or not UTF-8
//! are typed errors, and one endpoint's loads of a big value do not hold up
//! another endpoint's state operations.

use std::time::{Duration, Instant};

use camel_wasm::{Exchange, GuestError, Plugin, Runtime, StateBackend, WasmError};

use crate::fixture::{guest, guests_dir};
use crate::redis_server::RedisServer;

/// The foreign value: 64 MiB, a thousand times the default 64 KiB bound.
const BIG: usize = 64 << 20;
/// What Redis may send while refusing it: far below [`BIG`].
const SMALL: u64 = 1 << 20;

fn runtime_on(redis: &RedisServer) -> Runtime {
    let backend: StateBackend = redis.url().parse().unwrap();
    Runtime::builder().base_dir(guests_dir()).state(backend).build().unwrap()
}

fn plugin(runtime: &Runtime, name: &str, query: &str) -> Plugin {
    Plugin::from_uri(runtime, &format!("wasm:{}?{query}", guest(name))).unwrap()
}

/// Puts [`BIG`] zero bytes under `key` with a command of a few bytes (`SETRANGE`).
fn put_big(redis: &RedisServer, key: &str) {
    let reply = redis.command(&format!("SETRANGE {key} {} x", BIG - 1));
    assert_eq!(reply, format!(":{BIG}\r\n"), "SETRANGE {key}");
}

/// Bytes Redis has sent to all its clients so far (`INFO stats`).
fn net_output(redis: &RedisServer) -> u64 {
    let info = redis.command("INFO stats");
    let line = info.lines().find_map(|l| l.strip_prefix("total_net_output_bytes:")).expect("total_net_output_bytes");
    line.trim().parse().unwrap()
}

fn processor_message(err: &WasmError) -> &str {
    match err {
        WasmError::Guest { error: GuestError::Processor(m), .. } => m,
        other => panic!("expected a processor error, got {other:?}"),
    }
}

fn io_message(err: &WasmError) -> &str {
    match err {
        WasmError::Guest { error: GuestError::Io(m), .. } => m,
        other => panic!("expected an io error, got {other:?}"),
    }
}

#[tokio::test]
async fn a_foreign_value_over_the_bound_never_crosses_the_wire() {
    let redis = RedisServer::start();
    let rt = runtime_on(&redis);
    put_big(&redis, "camel-wasm:{counter.wasm#foreign}:count");
    put_big(&redis, "camel-wasm:{atomic-counter.wasm#foreign}:count");

    // host-load: the length is checked in Redis, and only the refusal comes back.
    let loader = plugin(&rt, "counter", "state-namespace=foreign&timeout=10");
    let before = net_output(&redis);
    let err = loader.process(Exchange::new("tick")).await.unwrap_err();
    let sent = net_output(&redis) - before;
    assert!(sent < SMALL, "Redis sent {sent} bytes to refuse a {BIG}-byte value");
    let message = processor_message(&err);
    assert!(
        message.contains(&format!("value of {BIG} bytes for key 'count' exceeds the 65536-byte bound (state-max-value-bytes)")),
        "{message}"
    );

    // increment on the same foreign value: refused as not an integer, just as small.
    let counter = plugin(&rt, "atomic-counter", "state-namespace=foreign&timeout=10");
    let before = net_output(&redis);
    let err = counter.process(Exchange::new("tick")).await.unwrap_err();
    let sent = net_output(&redis) - before;
    assert!(processor_message(&err).contains("increment: the value under 'count' is not an integer"), "{err}");
    assert!(sent < SMALL, "Redis sent {sent} bytes to refuse incrementing a {BIG}-byte value");
    let strlen = redis.command("STRLEN camel-wasm:{atomic-counter.wasm#foreign}:count");
    assert_eq!(strlen, format!(":{BIG}\r\n"), "the foreign value is left as it was");
}

#[tokio::test]
async fn foreign_values_of_the_wrong_type_or_not_utf8_are_typed_errors() {
    let redis = RedisServer::start();
    let rt = runtime_on(&redis);
    for (namespace, setup) in [("list", "RPUSH {key} a b"), ("hash", "HSET {key} f v")] {
        let key = format!("camel-wasm:{{counter.wasm#{namespace}}}:count");
        assert!(redis.command(&setup.replace("{key}", &key)).starts_with(':'), "{setup}");
        let err = plugin(&rt, "counter", &format!("state-namespace={namespace}")).process(Exchange::new("t")).await.unwrap_err();
        assert!(io_message(&err).contains(&format!("'count' holds a {namespace}, not a string")), "{err}");

        let key = format!("camel-wasm:{{atomic-counter.wasm#{namespace}}}:count");
        assert!(redis.command(&setup.replace("{key}", &key)).starts_with(':'), "{setup}");
        let err =
            plugin(&rt, "atomic-counter", &format!("state-namespace={namespace}")).process(Exchange::new("t")).await.unwrap_err();
        assert!(
            processor_message(&err).contains(&format!("increment: the value under 'count' is a {namespace}, not an integer")),
            "{err}"
        );
    }

    // Bytes that are not UTF-8 (the inline protocol's "\xff" escapes) never reach the guest as text.
    assert!(redis.command(r#"SET camel-wasm:{counter.wasm#bytes}:count "\xff\xfe1""#).starts_with("+OK"));
    let err = plugin(&rt, "counter", "state-namespace=bytes").process(Exchange::new("t")).await.unwrap_err();
    assert!(io_message(&err).contains("is not UTF-8"), "{err}");

    // An integer at the edge: the sum overflows, typed, and the value stays.
    assert!(redis.command(&format!("SET camel-wasm:{{atomic-counter.wasm#edge}}:count {}", i64::MAX)).starts_with("+OK"));
    let err = plugin(&rt, "atomic-counter", "state-namespace=edge").process(Exchange::new("t")).await.unwrap_err();
    assert!(processor_message(&err).contains("increment: the value under 'count'"), "{err}");
    assert!(redis.command("GET camel-wasm:{atomic-counter.wasm#edge}:count").contains(&i64::MAX.to_string()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loads_of_a_big_value_do_not_hold_up_another_endpoints_state() {
    let redis = RedisServer::start();
    let rt = runtime_on(&redis);
    put_big(&redis, "camel-wasm:{counter.wasm#foreign}:count");
    let loader = plugin(&rt, "counter", "state-namespace=foreign&max-concurrent=4&timeout=10");
    // Another endpoint on the same Redis URL, with a 1 s deadline per call.
    let other = plugin(&rt, "atomic-counter", "timeout=1");
    assert_eq!(other.process(Exchange::new("warm")).await.unwrap().header("x-count").and_then(|v| v.as_i64()), Some(1));

    let before = net_output(&redis);
    let loads: Vec<_> = (0..4)
        .map(|_| {
            let loader = loader.clone();
            tokio::spawn(async move { loader.process(Exchange::new("tick")).await })
        })
        .collect();
    // The other endpoint increments while the loads run: at least 10 times, at most 200 or 10 s.
    let (mut slowest, mut done) = (Duration::ZERO, 0i64);
    let stop_by = Instant::now() + Duration::from_secs(10);
    while done < 200 && Instant::now() < stop_by && (done < 10 || !loads.iter().all(|l| l.is_finished())) {
        let started = Instant::now();
        let out = other.process(Exchange::new("tick")).await.unwrap();
        slowest = slowest.max(started.elapsed());
        done += 1;
        assert_eq!(out.header("x-count").and_then(|v| v.as_i64()), Some(done + 1));
    }
    let mut refused = Vec::new();
    for load in loads {
        refused.push(load.await.unwrap().unwrap_err());
    }
    let sent = net_output(&redis) - before;
    assert!(
        slowest < Duration::from_millis(250),
        "the other endpoint's slowest of {done} increments took {slowest:?} of its 1 s deadline"
    );
    assert!(sent < SMALL, "Redis sent {sent} bytes for four refused loads");
    for err in &refused {
        assert!(processor_message(err).contains("exceeds the 65536-byte bound (state-max-value-bytes)"), "{err}");
    }
}
