//! `host-store` state in a real `redis-server` (started per test on a free
//! loopback port), shared by separate runtimes and surviving restarts.

use std::sync::Arc;
use std::time::{Duration, Instant};

use camel_wasm::{Exchange, GuestError, Limits, Plugin, Runtime, StateBackend, WasmError};
use serde_json::json;

use crate::fixture::{guest, guests_dir};
use crate::redis_server::RedisServer;

/// A runtime over the guests whose endpoints keep state in `backend` by default.
fn runtime_on(backend: &str) -> Runtime {
    let backend: StateBackend = backend.parse().unwrap();
    Runtime::builder().base_dir(guests_dir()).state(backend).build().unwrap()
}

async fn count(plugin: &Plugin) -> Result<u64, WasmError> {
    let out = plugin.process(Exchange::new("tick")).await?;
    Ok(out.header("x-count").and_then(|v| v.as_u64()).expect("x-count"))
}

fn counter(runtime: &Runtime, query: &str) -> Plugin {
    Plugin::from_uri(runtime, &format!("wasm:{}?{query}", guest("counter"))).unwrap()
}

#[tokio::test]
async fn two_runtimes_share_a_counter_through_redis() {
    let redis = RedisServer::start();
    let (a, b) = (runtime_on(&redis.url()), runtime_on(&redis.url()));
    let (on_a, on_b) = (counter(&a, "timeout=5"), counter(&b, "timeout=5"));
    assert_eq!(count(&on_a).await.unwrap(), 1);
    assert_eq!(count(&on_b).await.unwrap(), 2, "the second runtime sees the first one's count");
    assert_eq!(count(&on_a).await.unwrap(), 3);
    assert_eq!(on_b.state().location(), redis.url());
    assert_eq!(on_b.state().endpoint(), "counter.wasm");
    // The key layout operators see: camel-wasm:{endpoint}:key.
    assert!(redis.command("GET camel-wasm:{counter.wasm}:count").ends_with("3\r\n"));
    // A namespace keeps an endpoint apart; the same namespace shares.
    let apart = counter(&a, "state-namespace=orders");
    assert_eq!(count(&apart).await.unwrap(), 1);
    assert_eq!(count(&counter(&b, "state-namespace=orders")).await.unwrap(), 2);
    assert_eq!(count(&on_b).await.unwrap(), 4);
}

#[tokio::test]
async fn a_restarted_runtime_sees_the_state() {
    let redis = RedisServer::start();
    {
        let first = runtime_on(&redis.url());
        let plugin = counter(&first, "timeout=5");
        for expected in 1..=3 {
            assert_eq!(count(&plugin).await.unwrap(), expected);
        }
    }
    let restarted = runtime_on(&redis.url());
    assert_eq!(count(&counter(&restarted, "timeout=5")).await.unwrap(), 4);
    // The per-endpoint knob overrides the runtime's default: memory starts again from nothing.
    assert_eq!(count(&counter(&restarted, "state=memory")).await.unwrap(), 1);
    // And a memory runtime's endpoint can point at Redis itself.
    let memory = Runtime::builder().base_dir(guests_dir()).build().unwrap();
    assert_eq!(memory.default_state(), &StateBackend::Memory);
    assert_eq!(count(&counter(&memory, &format!("state={}", redis.url()))).await.unwrap(), 5);
}

#[tokio::test]
async fn the_bounds_hold_in_redis_even_across_hosts() {
    let redis = RedisServer::start();
    let (a, b) = (runtime_on(&redis.url()), runtime_on(&redis.url()));
    let flood = |rt: &Runtime| {
        let uri = format!("wasm:{}?state-max-entries=5&state-namespace=flood", guest("state-flood"));
        Plugin::from_uri(rt, &uri).unwrap()
    };
    let (on_a, on_b) = (flood(&a), flood(&b));
    // Two hosts flood one endpoint's state at once: the Lua script holds the total to 5.
    let (ra, rb) = tokio::join!(on_a.process(Exchange::new("x")), on_b.process(Exchange::new("x")));
    for err in [ra.unwrap_err(), rb.unwrap_err()] {
        assert!(
            matches!(&err, WasmError::Guest { error: GuestError::Processor(m), .. } if m.contains("the store is full (5 entries)")),
            "{err:?}"
        );
    }
    assert_eq!(on_a.state().key_count().await.unwrap(), 5);
    assert!(redis.command("ZCARD camel-wasm:{state-flood.wasm#flood}#keys").starts_with(":5"));
    // Key and value lengths are checked before Redis is asked.
    let small = Plugin::from_uri(&a, &format!("wasm:{}?state-max-value-bytes=100", guest("state-flood"))).unwrap();
    let err = small.process(Exchange::new("x")).await.unwrap_err();
    assert!(err.to_string().contains("value of 1024 bytes for key 'k0' exceeds the 100-byte bound"), "{err}");
    assert_eq!(small.state().key_count().await.unwrap(), 0);
    // A value written behind the host's back is held to the bound before the guest sees it.
    let reply = redis.command(&format!("SET camel-wasm:{{counter.wasm#big}}:count {}", "9".repeat(300)));
    assert!(reply.starts_with("+OK"), "{reply}");
    let big = counter(&a, "state-namespace=big&state-max-value-bytes=200");
    let err = count(&big).await.unwrap_err();
    let bound = "value of 300 bytes for key 'count' exceeds the 200-byte bound (state-max-value-bytes)";
    assert!(matches!(&err, WasmError::Guest { error: GuestError::Processor(m), .. } if m.contains(bound)), "{err:?}");
}

#[tokio::test]
async fn stored_keys_expire_after_state_ttl() {
    let redis = RedisServer::start();
    let rt = runtime_on(&redis.url());
    let plugin = counter(&rt, "state-ttl=0.3&state-max-entries=1");
    assert_eq!(count(&plugin).await.unwrap(), 1);
    assert_eq!(count(&plugin).await.unwrap(), 2);
    let ttl = redis.command("PTTL camel-wasm:{counter.wasm}:count");
    let ms: i64 = ttl.trim_start_matches(':').trim().parse().unwrap();
    assert!((1..=300).contains(&ms), "PTTL {ms}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(plugin.state().get("count").await.unwrap(), None);
    assert_eq!(plugin.state().key_count().await.unwrap(), 0, "an expired key frees its slot");
    assert_eq!(count(&plugin).await.unwrap(), 1);
}

#[tokio::test]
async fn redis_going_away_is_a_typed_io_error_within_the_deadline_and_calls_recover() {
    let mut redis = RedisServer::start();
    let rt = runtime_on(&redis.url());
    let recorder = metrics_util::debugging::DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let plugin = metrics::with_local_recorder(&recorder, || counter(&rt, "timeout=5"));
    let failures = || {
        snapshotter.snapshot().into_vec().into_iter().find_map(|(key, .., value)| {
            let named = key.key().name() == "camel_wasm_state_errors_total";
            match value {
                metrics_util::debugging::DebugValue::Counter(n) if named => Some(n),
                _ => None,
            }
        })
    };
    assert_eq!(count(&plugin).await.unwrap(), 1);
    assert_eq!(failures(), Some(0));

    redis.stop();
    let started = Instant::now();
    let err = count(&plugin).await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(5), "no hang past the deadline: {:?}", started.elapsed());
    let store = redis.url();
    assert!(
        matches!(&err, WasmError::Guest { plugin, error: GuestError::Io(m) }
            if plugin == "counter.wasm" && m.contains(&format!("state store {store} unavailable for endpoint 'counter.wasm'"))),
        "{err:?}"
    );
    assert_eq!(failures(), Some(1), "operators see the store failing");
    // Other endpoints keep serving meanwhile.
    let upper = Plugin::load(&rt, &guest("upper"), Limits::default()).unwrap();
    assert_eq!(upper.process(Exchange::new("still up")).await.unwrap().input.body.as_text(), Some("STILL UP"));

    // Back on the same port (empty: no persistence): the very next call succeeds, no restart.
    redis.restart();
    assert_eq!(count(&plugin).await.unwrap(), 1);
    assert_eq!(count(&plugin).await.unwrap(), 2);

    // A frozen server answers nothing: the call ends by its deadline, and the instance is not lost.
    let short = counter(&rt, "timeout=1&state-namespace=frozen");
    redis.pause();
    let started = Instant::now();
    let err = count(&short).await.unwrap_err();
    let took = started.elapsed();
    redis.resume();
    assert!(took < Duration::from_millis(1900), "bounded by the 1 s deadline: {took:?}");
    assert!(
        matches!(&err, WasmError::Timeout { .. })
            || matches!(&err, WasmError::Guest { error: GuestError::Io(m), .. } if m.contains("did not answer")),
        "{err:?}"
    );
    assert_eq!(count(&short).await.unwrap(), 1, "it serves again once Redis answers");
}

#[tokio::test]
async fn host_store_is_not_atomic_eight_read_modify_writes_can_become_one() {
    // Eight calls each load `count`, wait at a barrier until all eight have
    // loaded, then store count + 1: seven updates are lost. This documents
    // that a guest's load-then-store is not atomic, in memory and in Redis.
    let redis = RedisServer::start();
    for backend in ["memory".to_string(), redis.url()] {
        let rt = runtime_on(&backend);
        let barrier = Arc::new(tokio::sync::Barrier::new(8));
        rt.endpoints().register_fn("barrier", move |_req| {
            let barrier = barrier.clone();
            async move {
                barrier.wait().await;
                Ok(String::new())
            }
        });
        let plugin = counter(&rt, "max-concurrent=8&allow-call=barrier&timeout=10");
        let calls = (0..8).map(|_| {
            let plugin = plugin.clone();
            tokio::spawn(async move { plugin.process(Exchange::new("tick").with_header("x-pause-at", "barrier:all")).await })
        });
        for call in calls.collect::<Vec<_>>() {
            let out = call.await.unwrap().unwrap();
            assert_eq!(out.header("x-count"), Some(&json!(1)), "{backend}: every call read 0 before any wrote");
        }
        assert_eq!(plugin.state().get("count").await.unwrap().as_deref(), Some("1"), "{backend}: 8 increments, 1 kept");
        // Without the pause, calls in sequence count every one.
        for expected in 2..=4 {
            assert_eq!(count(&plugin).await.unwrap(), expected, "{backend}");
        }
    }
}

#[test]
fn two_cli_processes_share_state_through_redis() {
    let redis = RedisServer::start();
    let file = guests_dir().join(guest("counter"));
    let call = |extra: &[&str]| {
        let out = crate::fixture::cli_command()
            .arg("call")
            .arg(&file)
            .args(["--state", &redis.url()])
            .args(extra)
            .output()
            .expect("run camel-wasm");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let exchange: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        exchange["input"]["headers"]["x-count"].clone()
    };
    assert_eq!(call(&[]), json!(1));
    assert_eq!(call(&[]), json!(2), "the second process sees the first one's state");
    assert_eq!(call(&["--state-namespace", "other"]), json!(1));
    // A bad URL is refused up front, naming the flag's knob.
    let out =
        crate::fixture::cli_command().arg("call").arg(&file).args(["--state", "redis://127.0.0.1:notaport/0"]).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("for parameter 'state'"), "{}", String::from_utf8_lossy(&out.stderr));
}

#[tokio::test]
async fn the_atomic_increment_loses_no_update_in_memory_or_across_hosts_in_redis() {
    // The same line-up as above, through `camel:state/counters.increment`:
    // eight calls at once, no update lost. In Redis they run on two hosts.
    let redis = RedisServer::start();
    for backend in ["memory".to_string(), redis.url()] {
        let hosts =
            if backend == "memory" { vec![runtime_on(&backend)] } else { vec![runtime_on(&backend), runtime_on(&backend)] };
        let barrier = Arc::new(tokio::sync::Barrier::new(8));
        let plugins: Vec<Plugin> = hosts
            .iter()
            .map(|rt| {
                let barrier = barrier.clone();
                rt.endpoints().register_fn("barrier", move |_req| {
                    let barrier = barrier.clone();
                    async move {
                        barrier.wait().await;
                        Ok(String::new())
                    }
                });
                let uri = format!("wasm:{}?max-concurrent=8&allow-call=barrier&timeout=10", guest("atomic-counter"));
                Plugin::from_uri(rt, &uri).unwrap()
            })
            .collect();
        let calls: Vec<_> = (0..8)
            .map(|i| {
                let plugin = plugins[i % plugins.len()].clone();
                tokio::spawn(async move { plugin.process(Exchange::new("tick").with_header("x-pause-at", "barrier:all")).await })
            })
            .collect();
        let mut counts = Vec::new();
        for call in calls {
            counts.push(call.await.unwrap().unwrap().header("x-count").and_then(|v| v.as_i64()).unwrap());
        }
        counts.sort_unstable();
        assert_eq!(counts, (1..=8).collect::<Vec<i64>>(), "{backend}: every increment counted once");
        assert_eq!(plugins[0].state().get("count").await.unwrap().as_deref(), Some("8"), "{backend}");
        // What is not an integer is refused, naming the key; nothing changes.
        plugins[0].state().store("count", "eight", Instant::now() + Duration::from_secs(5)).await.unwrap();
        let err = plugins[0].process(Exchange::new("tick")).await.unwrap_err();
        assert!(err.to_string().contains("increment: the value under 'count'"), "{backend}: {err}");
        assert_eq!(plugins[0].state().get("count").await.unwrap().as_deref(), Some("eight"));
    }
}
