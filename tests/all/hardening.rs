//! Limits, traps, recovery and bad input, through misbehaving guests.

use std::time::{Duration, Instant};

use camel_wasm::{Body, Exchange, GuestError, Limits, LoadError, Plugin, Runtime, TrapReason, WasmError};
use serde_json::json;

use crate::fixture::{guest, runtime};

fn load_uri(name: &str, query: &str) -> Plugin {
    Plugin::from_uri(runtime(), &format!("wasm:{}?{query}", guest(name))).expect("load")
}

#[tokio::test]
async fn a_looping_guest_times_out_and_the_next_call_succeeds() {
    let plugin = load_uri("chaos", "timeout=0.5");
    let started = Instant::now();
    let err = plugin.process(Exchange::new("spin")).await.unwrap_err();
    assert_eq!(err, WasmError::Timeout { plugin: "chaos.wasm".into(), timeout: Duration::from_millis(500) });
    assert!(started.elapsed() < Duration::from_secs(5), "the timeout fired (took {:?})", started.elapsed());
    let ok = plugin.process(Exchange::new("fine")).await.unwrap();
    assert_eq!(ok.input.body.as_text(), Some("FINE"));
    let spin = load_uri("spin", "timeout=0.3").process(Exchange::new("x")).await.unwrap_err();
    assert!(matches!(spin, WasmError::Timeout { .. }), "{spin:?}");
}

#[tokio::test]
async fn a_plugin_outliving_its_runtime_handle_still_meets_its_deadline() {
    let plugin = {
        let runtime = Runtime::builder().base_dir(crate::fixture::guests_dir()).build().unwrap();
        Plugin::from_uri(&runtime, &format!("wasm:{}?timeout=0.3", guest("spin"))).unwrap()
    };
    let err = plugin.process(Exchange::new("x")).await.unwrap_err();
    assert!(matches!(err, WasmError::Timeout { .. }), "{err:?}");
}

#[test]
fn a_looping_guest_does_not_stall_other_tasks_on_the_executor() {
    // One worker thread: if the guest never yielded, the ticker task could not run.
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let plugin = load_uri("spin", "timeout=1");
        let ticks = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
        let counter = ticks.clone();
        let ticker = tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(10)).await;
                counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
        });
        let err = plugin.process(Exchange::new("x")).await.unwrap_err();
        ticker.abort();
        assert!(matches!(err, WasmError::Timeout { .. }));
        assert!(ticks.load(std::sync::atomic::Ordering::Relaxed) >= 10, "other tasks kept running");
    });
}

#[tokio::test]
async fn the_deadline_covers_time_waiting_in_host_calls() {
    let plugin = load_uri("slow-call", "timeout=0.5&allow-call=slow,echo");
    let err = plugin.process(Exchange::new("x").with_header("call-uri", "slow:wait")).await.unwrap_err();
    assert!(matches!(err, WasmError::Timeout { .. }), "{err:?}");
    let ok = plugin.process(Exchange::new("x").with_header("call-uri", "echo:fast")).await.unwrap();
    assert_eq!(ok.input.body.as_text(), Some("echo(echo:fast): x"));
}

#[tokio::test]
async fn memory_growth_past_the_limit_is_out_of_memory() {
    let plugin = load_uri("memhog", "max-memory=10485760&timeout=10");
    let err = plugin.process(Exchange::new("x")).await.unwrap_err();
    assert_eq!(err, WasmError::OutOfMemory { plugin: "memhog.wasm".into(), max_memory_bytes: 10_485_760 });
    let chaos = load_uri("chaos", "max-memory=10485760&timeout=10");
    assert!(matches!(chaos.process(Exchange::new("alloc")).await, Err(WasmError::OutOfMemory { .. })));
    assert_eq!(chaos.process(Exchange::new("after")).await.unwrap().input.body.as_text(), Some("AFTER"));
}

#[tokio::test]
async fn traps_are_classified() {
    let err = load_uri("deep-recursion", "timeout=10").process(Exchange::new("x")).await.unwrap_err();
    assert_eq!(err, WasmError::Trap { plugin: "deep-recursion.wasm".into(), reason: TrapReason::StackOverflow });
    let err = load_uri("panicker", "timeout=10").process(Exchange::new("x")).await.unwrap_err();
    assert!(
        matches!(&err, WasmError::GuestPanic { plugin, message } if plugin == "panicker.wasm" && message.contains("panicker: deliberate panic")),
        "{err:?}"
    );
    assert!(err.to_string().contains("deliberate panic"));
}

#[tokio::test]
async fn recovery_after_each_kind_of_failure_keeps_concurrent_calls_unaffected() {
    let plugin = load_uri("chaos", "timeout=1&max-memory=16777216");
    let good = (0..8).map(|i| {
        let plugin = plugin.clone();
        tokio::spawn(async move { plugin.process(Exchange::new(format!("good {i}"))).await })
    });
    let bad = ["panic", "recurse", "alloc", "spin"].map(|what| {
        let plugin = plugin.clone();
        tokio::spawn(async move { plugin.process(Exchange::new(what)).await })
    });
    for (i, call) in good.enumerate() {
        assert_eq!(call.await.unwrap().unwrap().input.body, Body::Text(format!("GOOD {i}")));
    }
    let errors: Vec<WasmError> = futures_join(bad).await;
    assert!(matches!(errors[0], WasmError::GuestPanic { .. }), "{:?}", errors[0]);
    assert!(matches!(errors[1], WasmError::Trap { reason: TrapReason::StackOverflow, .. }), "{:?}", errors[1]);
    assert!(matches!(errors[2], WasmError::OutOfMemory { .. }), "{:?}", errors[2]);
    assert!(matches!(errors[3], WasmError::Timeout { .. }), "{:?}", errors[3]);
    assert_eq!(plugin.process(Exchange::new("again")).await.unwrap().input.body.as_text(), Some("AGAIN"));
}

async fn futures_join<const N: usize>(handles: [tokio::task::JoinHandle<Result<Exchange, WasmError>>; N]) -> Vec<WasmError> {
    let mut errors = Vec::new();
    for handle in handles {
        errors.push(handle.await.unwrap().expect_err("a bad call fails"));
    }
    errors
}

#[tokio::test]
async fn soak_alternating_good_and_bad_calls() {
    let plugin = load_uri("chaos", "timeout=0.2&max-memory=8388608");
    let tasks = (0..4).map(|t| {
        let plugin = plugin.clone();
        tokio::spawn(async move {
            let mut good = 0;
            for i in 0..500u32 {
                let bad = ["panic", "recurse", "alloc", "spin"][(i as usize / 2) % 4];
                if i % 2 == 0 {
                    let body = format!("t{t} c{i}");
                    let out = plugin.process(Exchange::new(body.clone())).await.expect("good call");
                    assert_eq!(out.input.body.as_text(), Some(body.to_uppercase().as_str()));
                    good += 1;
                } else if bad != "spin" || i % 50 == 1 {
                    let err = plugin.process(Exchange::new(bad)).await.expect_err("bad call");
                    let right = match bad {
                        "panic" => matches!(err, WasmError::GuestPanic { .. }),
                        "recurse" => matches!(err, WasmError::Trap { reason: TrapReason::StackOverflow, .. }),
                        "alloc" => matches!(err, WasmError::OutOfMemory { .. }),
                        _ => matches!(err, WasmError::Timeout { .. }),
                    };
                    assert!(right, "{bad}: {err:?}");
                }
            }
            good
        })
    });
    let mut good = 0;
    for task in tasks {
        good += task.await.unwrap();
    }
    assert_eq!(good, 1000);
}

#[tokio::test]
async fn the_wasi_surface_is_clocks_random_and_captured_stdio_only() {
    let out = load_uri("wasi-probe", "timeout=10").process(Exchange::new("x")).await.unwrap();
    assert_eq!(out.header("x-fs"), Some(&json!("denied")));
    assert_eq!(out.header("x-env"), Some(&json!(0)));
    assert_eq!(out.header("x-clock"), Some(&json!("ok")));
    assert_eq!(out.header("x-random"), Some(&json!("ok")));
    assert_eq!(out.header("x-net"), Some(&json!("denied")));
}

fn scratch_runtime(files: &[(&str, &[u8])]) -> Runtime {
    let dir = std::env::temp_dir().join(format!("camel-wasm-bad-{}-{}", std::process::id(), files[0].0));
    std::fs::create_dir_all(&dir).unwrap();
    for (name, bytes) in files {
        std::fs::write(dir.join(name), bytes).unwrap();
    }
    Runtime::builder().base_dir(dir).pooling(false).build().unwrap()
}

#[tokio::test]
async fn bad_files_get_clear_load_errors() {
    let foreign = wat::parse_str(r#"(component (import "acme:secrets/vault@1.0.0" (instance (export "get" (func)))))"#).unwrap();
    let rt = scratch_runtime(&[
        ("garbage.wasm", b"this is not wasm at all"),
        ("core.wasm", b"\0asm\x01\0\0\0"),
        ("truncated.wasm", b"\0asm\x0d\0\x01\0\x07\x05"),
        ("foreign.wasm", &foreign),
    ]);
    let load = |name: &str| Plugin::load(&rt, name, Limits::default()).unwrap_err();
    assert!(matches!(load("garbage.wasm"), WasmError::Load(LoadError::Corrupt { .. })));
    let core = load("core.wasm");
    assert!(matches!(core, WasmError::Load(LoadError::CoreModule { .. })), "{core:?}");
    assert!(core.to_string().contains("core WebAssembly module, not a component"));
    assert!(matches!(load("truncated.wasm"), WasmError::Load(LoadError::Corrupt { .. })));
    let foreign = load("foreign.wasm");
    assert!(
        matches!(&foreign, WasmError::Load(LoadError::UnsupportedImport { import, .. }) if import.contains("acme:secrets/vault")),
        "{foreign:?}"
    );
    let small = Limits { max_wasm_size: 4, ..Limits::default() };
    let err = Plugin::load(&rt, "garbage.wasm", small).unwrap_err();
    assert!(matches!(err, WasmError::Load(LoadError::TooLarge { max: 4, .. })), "{err:?}");
}

#[tokio::test]
async fn bad_uri_parameters_name_the_parameter_and_value() {
    let upper = guest("upper");
    for (query, expected) in [
        ("timeout=0", "invalid value '0' for parameter 'timeout'"),
        ("timeout=soon", "invalid value 'soon' for parameter 'timeout'"),
        ("max-memory=-1", "invalid value '-1' for parameter 'max-memory'"),
        ("isolation=sometimes", "invalid value 'sometimes' for parameter 'isolation'"),
        ("colour=blue", "unknown parameter 'colour'"),
    ] {
        let err = Plugin::from_uri(runtime(), &format!("wasm:{upper}?{query}")).unwrap_err();
        assert!(err.to_string().contains(expected), "{query}: {err}");
    }
    let err = Plugin::from_uri(runtime(), "wasm:/etc/passwd").unwrap_err();
    assert!(matches!(err, WasmError::Load(LoadError::ForbiddenPath { .. })), "{err:?}");
}

#[tokio::test]
async fn guest_errors_do_not_recycle_the_instance() {
    let plugin = load_uri("chaos", "timeout=5");
    plugin.process(Exchange::new("warm")).await.unwrap();
    let err = plugin.process(Exchange::new("error")).await.unwrap_err();
    assert!(matches!(err, WasmError::Guest { error: GuestError::Processor(_), .. }), "{err:?}");
    assert_eq!(plugin.idle_instances(), 1, "a guest-level error leaves the instance usable");
}
