//! Instance reuse, isolation, recycling, back-pressure and the pooling allocator.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use camel_wasm::{Exchange, Limits, Plugin, Runtime, WasmError};
use serde_json::json;
use tower::{Service, ServiceExt};

use crate::fixture::{guest, guests_dir, runtime};

fn chaos(query: &str) -> Plugin {
    Plugin::from_uri(runtime(), &format!("wasm:{}?{query}", guest("chaos"))).unwrap()
}

async fn instance_calls(plugin: &Plugin, body: &str) -> serde_json::Value {
    plugin.process(Exchange::new(body)).await.unwrap().header("x-instance-calls").cloned().unwrap()
}

#[tokio::test]
async fn reuse_keeps_guest_statics_and_per_call_isolation_does_not() {
    let reused = chaos("isolation=reuse");
    for expected in 1..=3 {
        assert_eq!(instance_calls(&reused, "a").await, json!(expected));
    }
    let isolated = chaos("isolation=per-call");
    for _ in 0..3 {
        assert_eq!(instance_calls(&isolated, "a").await, json!(1));
    }
    assert_eq!(isolated.idle_instances(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_call_spares_are_fresh_and_bounded() {
    let isolated = chaos("isolation=per-call&max-concurrent=4");
    let callers: Vec<_> = (0..4)
        .map(|_| {
            let isolated = isolated.clone();
            tokio::spawn(async move {
                for _ in 0..25 {
                    assert_eq!(instance_calls(&isolated, "a").await, json!(1), "every exchange gets an unused instance");
                }
            })
        })
        .collect();
    for caller in callers {
        caller.await.unwrap();
    }
    // Spares only (made off the callers' path): never more than two.
    assert!(isolated.idle_instances() <= 2, "{} idle", isolated.idle_instances());
}

#[tokio::test]
async fn instances_are_recycled_after_n_calls_and_after_a_trap() {
    let plugin = chaos("recycle-after=2");
    let seen = [instance_calls(&plugin, "a").await, instance_calls(&plugin, "b").await, instance_calls(&plugin, "c").await];
    assert_eq!(seen, [json!(1), json!(2), json!(1)]);
    let plugin = chaos("timeout=5");
    assert_eq!(instance_calls(&plugin, "a").await, json!(1));
    assert_eq!(instance_calls(&plugin, "b").await, json!(2));
    assert!(matches!(plugin.process(Exchange::new("panic")).await, Err(WasmError::GuestPanic { .. })));
    assert_eq!(instance_calls(&plugin, "c").await, json!(1), "a fresh instance after the trap");
}

#[tokio::test]
async fn a_waiting_caller_is_served_when_a_slot_frees() {
    let uri = format!("wasm:{}?max-concurrent=1&allow-call=hold,echo", guest("slow-call"));
    let plugin = Plugin::from_uri(runtime(), &uri).unwrap();
    let order = Arc::new(AtomicUsize::new(0));

    let mut first = plugin.service();
    first.ready().await.unwrap();
    let slow = first.call(Exchange::new("slow").with_header("call-uri", "hold:x"));
    let first_order = order.clone();
    let slow = tokio::spawn(async move {
        let out = slow.await;
        first_order.fetch_add(1, Ordering::SeqCst);
        out
    });

    // The only slot is taken: a second service is not ready...
    let mut second = plugin.service();
    assert!(tokio::time::timeout(Duration::from_millis(100), second.ready()).await.is_err(), "poll_ready waits");
    assert_eq!(plugin.available_slots(), 0);
    // A service that is not called gives up its place in line when dropped.
    drop(second);
    // ...and a plain call waits instead of failing, then is served.
    let out = plugin.process(Exchange::new("fast").with_header("call-uri", "echo:x")).await.unwrap();
    assert_eq!(order.load(Ordering::SeqCst), 1, "served only after the slow call freed the slot");
    assert_eq!(out.input.body.as_text(), Some("echo(echo:x): fast"));
    assert_eq!(slow.await.unwrap().unwrap().input.body.as_text(), Some("held"));
    let mut second = plugin.service();
    second.ready().await.unwrap();
    assert_eq!(
        second.call(Exchange::new("again").with_header("call-uri", "echo:y")).await.unwrap().input.body.as_text(),
        Some("echo(echo:y): again")
    );
}

#[tokio::test]
async fn a_thread_gets_back_the_instance_it_gave_back() {
    // Two instances: one held on another thread while this one makes and uses a second.
    let plugin =
        Plugin::from_uri(runtime(), &format!("wasm:{}?max-concurrent=2&allow-call=hold,echo", guest("slow-call"))).unwrap();
    let call = |plugin: &Plugin, uri: &'static str| {
        let plugin = plugin.clone();
        async move {
            plugin.process(Exchange::new("x").with_header("call-uri", uri)).await.unwrap().header("x-instance-calls").cloned()
        }
    };
    let held = {
        let call = call(&plugin, "hold:x");
        std::thread::spawn(move || tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(call))
    };
    assert!(
        crate::fixture::eventually(Duration::from_secs(10), || plugin.available_slots() == 1).await,
        "the held call took a slot"
    );
    assert_eq!(call(&plugin, "echo:x").await, Some(json!(1)), "a second instance, made on this thread");
    assert_eq!(call(&plugin, "echo:x").await, Some(json!(2)));
    assert_eq!(held.join().unwrap(), Some(json!(1)), "the other thread's instance, given back last");
    // The newest idle instance is the other thread's; this thread gets its own.
    assert_eq!(call(&plugin, "echo:x").await, Some(json!(3)));
}

#[tokio::test]
async fn the_pooling_allocator_falls_back_when_it_cannot_reserve_and_limits_follow_the_config() {
    assert!(runtime().uses_pooling(), "the default runtime pools instances");
    let huge = Runtime::builder().base_dir(guests_dir()).max_instances(50_000_000).build().unwrap();
    assert!(!huge.uses_pooling(), "an impossible reservation falls back to on-demand allocation");
    let plugin = Plugin::load(&huge, &guest("upper"), Limits::default()).unwrap();
    assert_eq!(plugin.process(Exchange::new("ok")).await.unwrap().input.body.as_text(), Some("OK"));

    let small = Runtime::builder().base_dir(guests_dir()).memory_ceiling(8 << 20).build().unwrap();
    let err = Plugin::from_uri(&small, &format!("wasm:{}?max-memory=16777216", guest("upper"))).unwrap_err();
    assert!(err.to_string().contains("above the runtime's memory ceiling of 8388608 bytes"), "{err}");
}
