//! Dropping a CamelContext with a registered `WasmComponent` frees the
//! camel-wasm runtime: its pools, instances and the epoch ticker thread.
//!
//! A test binary of its own, with a single test, so that no other test's
//! runtime (and epoch thread) is alive while the threads are counted.
#![cfg(feature = "rust-camel")]

use std::path::PathBuf;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use camel_api::{Body, Exchange, Message};
use camel_builder::{RouteBuilder, StepAccumulator};
use camel_component_direct::DirectComponent;
use camel_core::CamelContext;
use camel_wasm::camel::{ExchangeMapping, WasmComponent, WasmProducer};
use camel_wasm::{Limits, Plugin, Runtime};
use tower::ServiceExt;

/// The ticker thread's name as /proc shows it: Linux keeps the first 15 bytes
/// of a thread name, so "camel-wasm-epoch" reads "camel-wasm-epoc".
const EPOCH_THREAD: &str = "camel-wasm-epoch";

fn dist() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("guests/dist")
}

/// Threads of this process named like the epoch ticker.
fn epoch_threads() -> usize {
    let shown = &EPOCH_THREAD[..EPOCH_THREAD.len().min(15)];
    std::fs::read_dir("/proc/self/task")
        .expect("/proc/self/task")
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
        .filter(|comm| comm.trim_end_matches('\n') == shown)
        .count()
}

/// Polls up to 5 s until `done` holds; whether it did.
fn eventually(mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if done() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn text_exchange(body: &str) -> Exchange {
    Exchange::new_in_out(Message::new(body))
}

/// A context with direct: and wasm: on a fresh runtime, and the routes
/// `direct:in -> wasm:upper.wasm`, `direct:shout` (upper-cases, adds "!") and
/// `direct:fwd -> wasm:forward.wasm?allow-call=direct` (a guest that camel-calls the context).
async fn started_context(runtime: Runtime) -> (CamelContext, WasmComponent) {
    let mut ctx = CamelContext::builder().build().await.expect("context");
    ctx.register_component(DirectComponent::new());
    let wasm = WasmComponent::register(&mut ctx, runtime);
    let routes = [
        RouteBuilder::from("direct:in").route_id("in").to("wasm:upper.wasm").build().unwrap(),
        RouteBuilder::from("direct:shout")
            .route_id("shout")
            .process(|mut ex: Exchange| async move {
                let text = ex.input.body.as_text().unwrap_or_default().to_uppercase();
                ex.input.body = Body::Text(format!("{text}!"));
                Ok(ex)
            })
            .build()
            .unwrap(),
        RouteBuilder::from("direct:fwd").route_id("fwd").to("wasm:forward.wasm?allow-call=direct").build().unwrap(),
    ];
    for route in routes {
        ctx.add_route_definition(route).await.unwrap();
    }
    ctx.start().await.unwrap();
    (ctx, wasm)
}

#[test]
fn dropping_the_context_frees_the_wasm_runtime_and_its_epoch_thread() {
    assert!(dist().join("upper.wasm").exists(), "build the guests first: bash guests/build.sh");
    let tokio = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let before = epoch_threads();

    // 1. Context, component and routes used, then stopped and dropped with every handle.
    let registry: Weak<_> = tokio.block_on(async {
        let runtime = Runtime::builder().base_dir(dist()).build().expect("runtime");
        let (mut ctx, wasm) = started_context(runtime).await;
        assert_eq!(epoch_threads(), before + 1, "the runtime runs one epoch thread");

        let endpoints = wasm.camel_endpoints().expect("bridged to the context").clone();
        let reply = endpoints.send("direct:in", text_exchange("hello")).await.unwrap();
        assert_eq!(reply.input.body.as_text(), Some("HELLO"));

        // A guest's camel-call through the context (fills the call service's producer cache).
        let mut exchange = text_exchange("hi there");
        exchange.input.set_header("forward-to", "direct:shout");
        let reply = endpoints.send("direct:fwd", exchange).await.unwrap();
        assert_eq!(reply.input.body.as_text(), Some("HI THERE!"));

        // A wasm: endpoint reached from Rust through the context (its producer holds the runtime).
        let reply = endpoints.send("wasm:upper.wasm", text_exchange("direct")).await.unwrap();
        assert_eq!(reply.input.body.as_text(), Some("DIRECT"));

        let registry = Arc::downgrade(&ctx.registry_arc());
        ctx.stop().await.unwrap();
        drop(endpoints);
        drop(wasm);
        drop(ctx);
        registry
    });
    let freed = eventually(|| registry.strong_count() == 0 && epoch_threads() == before);
    assert!(
        freed,
        "after the context and every handle are dropped: registry strong count {} (want 0), \
         epoch threads {} (want {before})",
        registry.strong_count(),
        epoch_threads()
    );

    // 2. A guest kept alive past its context: its camel-call fails cleanly, it does not panic.
    tokio.block_on(async {
        let runtime = Runtime::builder().base_dir(dist()).build().expect("runtime");
        let (mut ctx, wasm) = started_context(runtime.clone()).await;
        let mut limits = Limits::default();
        limits.set("allow-call", "direct").unwrap();
        let plugin = Plugin::load(&runtime, "forward.wasm", limits).expect("forward.wasm loads");
        let producer = WasmProducer::new(&plugin, ExchangeMapping::default(), None);

        let mut exchange = text_exchange("still here");
        exchange.input.set_header("forward-to", "direct:shout");
        let reply = producer.clone().oneshot(exchange).await.expect("the context is alive");
        assert_eq!(reply.input.body.as_text(), Some("STILL HERE!"));

        let registry = Arc::downgrade(&ctx.registry_arc());
        ctx.stop().await.unwrap();
        drop(wasm);
        drop(ctx);
        assert!(eventually(|| registry.strong_count() == 0), "the registry outlives its context");

        let mut exchange = text_exchange("anyone?");
        exchange.input.set_header("forward-to", "direct:shout");
        let err = producer.clone().oneshot(exchange).await.expect_err("the context is gone").to_string();
        assert!(err.contains("the camel context is gone"), "{err}");

        drop(producer);
        drop(plugin);
        drop(runtime);
    });
    assert!(eventually(|| epoch_threads() == before), "epoch threads {} (want {before})", epoch_threads());
}
