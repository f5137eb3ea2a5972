//! Hot reload: a new version of a `.wasm` file swapped into live endpoints,
//! by `Runtime::reload` and by `Runtime::watch`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use camel_wasm::{Bean, Exchange, Language, Limits, LoadError, Plugin, ReloadOutcome, ReloadStats, Runtime, WasmError};
use serde_json::json;

use crate::fixture::{guest, guests_dir};

/// A fresh directory for test `test`, with `p.wasm` a copy of guest `first`.
pub(crate) fn plugin_dir(test: &str, first: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("camel-wasm-reload-{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(guests_dir().join(guest(first)), dir.join("p.wasm")).unwrap();
    dir
}

fn runtime_in(dir: &Path) -> Runtime {
    Runtime::builder().base_dir(dir).max_instances(64).build().expect("runtime")
}

pub(crate) fn bytes_of(name: &str) -> Vec<u8> {
    std::fs::read(guests_dir().join(guest(name))).unwrap()
}

/// Replaces `dir/file` with `bytes` atomically: written under another name, then renamed over.
pub(crate) fn replace(dir: &Path, file: &str, bytes: &[u8]) {
    let tmp = dir.join(format!(".{file}.tmp"));
    std::fs::write(&tmp, bytes).unwrap();
    std::fs::rename(&tmp, dir.join(file)).unwrap();
}

/// Which guest answered: the `x-processed-by` header `upper` and `raw-upper` set.
pub(crate) async fn served_by(plugin: &Plugin) -> String {
    let out = plugin.process(Exchange::new("hello")).await.expect("call");
    assert_eq!(out.input.body.as_text(), Some("HELLO"));
    out.header("x-processed-by").and_then(|v| v.as_str()).unwrap_or_default().to_string()
}

/// Polls `served_by` until it is `want`, for at most `within`; how long it took.
async fn wait_for_version(plugin: &Plugin, want: &str, within: Duration) -> Duration {
    let start = Instant::now();
    loop {
        let got = served_by(plugin).await;
        if got == want {
            return start.elapsed();
        }
        assert!(start.elapsed() < within, "still served by {got}, not {want}, after {within:?}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_reloads_under_load_fail_no_call() {
    let dir = plugin_dir("load", "upper");
    let runtime = runtime_in(&dir);
    let limits = Limits { max_concurrent: 8, ..Limits::default() };
    let a = Plugin::load(&runtime, "p.wasm", limits.clone()).unwrap();
    let b = Plugin::load(&runtime, "p.wasm", limits).unwrap();
    let (upper, raw_upper) = (bytes_of("upper"), bytes_of("raw-upper"));

    let stop = Arc::new(AtomicBool::new(false));
    let (ok, failed, saw_upper, saw_raw) =
        (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let mut callers = Vec::new();
    for caller in 0..4 {
        let plugin = if caller % 2 == 0 { a.clone() } else { b.clone() };
        let (stop, ok, failed, saw_upper, saw_raw) =
            (stop.clone(), ok.clone(), failed.clone(), saw_upper.clone(), saw_raw.clone());
        callers.push(tokio::spawn(async move {
            // Bounded: until the reloads are done, or a minute at most.
            let start = Instant::now();
            while !stop.load(Ordering::Relaxed) && start.elapsed() < Duration::from_secs(60) {
                match plugin.process(Exchange::new("hello")).await {
                    Ok(out) if out.input.body.as_text() == Some("HELLO") => {
                        ok.fetch_add(1, Ordering::Relaxed);
                        match out.header("x-processed-by") {
                            Some(v) if *v == json!("upper") => saw_upper.fetch_add(1, Ordering::Relaxed),
                            Some(v) if *v == json!("raw-upper") => saw_raw.fetch_add(1, Ordering::Relaxed),
                            other => panic!("unexpected x-processed-by {other:?}"),
                        };
                    }
                    Ok(out) => panic!("unexpected body {:?}", out.input.body),
                    Err(e) => {
                        eprintln!("call failed during reloads: {e}");
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }));
    }

    for round in 0..20 {
        let (bytes, tag) = if round % 2 == 0 { (&raw_upper, "raw-upper") } else { (&upper, "upper") };
        replace(&dir, "p.wasm", bytes);
        let outcome = runtime.reload("p.wasm").await.expect("reload");
        assert_eq!(outcome, ReloadOutcome::Reloaded { endpoints: 2 });
        // A call that starts after the reload returned runs the new version.
        assert_eq!(served_by(&a).await, tag);
        assert_eq!(served_by(&b).await, tag);
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    stop.store(true, Ordering::Relaxed);
    for caller in callers {
        caller.await.unwrap();
    }

    let (ok, failed) = (ok.load(Ordering::Relaxed), failed.load(Ordering::Relaxed));
    let (saw_upper, saw_raw) = (saw_upper.load(Ordering::Relaxed), saw_raw.load(Ordering::Relaxed));
    eprintln!("calls: {ok} ok, {failed} failed; upper {saw_upper}, raw-upper {saw_raw}");
    assert_eq!(failed, 0);
    assert!(saw_upper > 0 && saw_raw > 0, "both versions served: upper {saw_upper}, raw-upper {saw_raw}");
    assert_eq!(runtime.reload_stats(), ReloadStats { succeeded: 20, failed: 0, unchanged: 0 });
    // The same content again is no reload; only the version in use stays compiled.
    assert_eq!(runtime.reload("p.wasm").await.unwrap(), ReloadOutcome::Unchanged);
    assert_eq!(runtime.compiled_count(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_call_in_flight_finishes_on_the_old_version() {
    let dir = plugin_dir("inflight", "slow-call");
    let runtime = runtime_in(&dir);
    runtime.endpoints().register_fn("hold", |_req: camel_wasm::CallRequest| async move {
        tokio::time::sleep(Duration::from_millis(400)).await;
        Ok("held".to_string())
    });
    let limits = Limits { allow_call: "hold".parse().unwrap(), ..Limits::default() };
    let plugin = Plugin::load(&runtime, "p.wasm", limits).unwrap();
    let slow = {
        let plugin = plugin.clone();
        tokio::spawn(async move { plugin.process(Exchange::new("x").with_header("call-uri", "hold:x")).await })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    replace(&dir, "p.wasm", &bytes_of("upper"));
    runtime.reload("p.wasm").await.unwrap();
    // New calls run the new version while the old call is still in flight...
    assert_eq!(served_by(&plugin).await, "upper");
    // ...which ends on the old one, and its instance is not reused.
    let out = slow.await.unwrap().expect("the call in flight");
    assert_eq!(out.input.body.as_text(), Some("held"));
    assert_eq!(plugin.idle_instances(), 1);
    assert_eq!(served_by(&plugin).await, "upper");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_broken_or_unfitting_file_keeps_the_old_version() {
    let dir = plugin_dir("broken", "upper");
    let runtime = runtime_in(&dir);
    let plugin = Plugin::load(&runtime, "p.wasm", Limits::default()).unwrap();
    assert_eq!(served_by(&plugin).await, "upper");

    replace(&dir, "p.wasm", b"not wasm");
    let err = runtime.reload("p.wasm").await.unwrap_err();
    assert!(matches!(&err, WasmError::Load(LoadError::Corrupt { plugin, .. }) if plugin == "p.wasm"), "{err:?}");
    assert!(err.to_string().contains("p.wasm"), "{err}");
    assert_eq!(served_by(&plugin).await, "upper");

    // Half a component: not valid either.
    let upper = bytes_of("upper");
    replace(&dir, "p.wasm", &upper[..upper.len() / 2]);
    let err = runtime.reload("p.wasm").await.unwrap_err();
    assert!(matches!(&err, WasmError::Load(LoadError::Corrupt { plugin, .. }) if plugin == "p.wasm"), "{err:?}");
    assert_eq!(served_by(&plugin).await, "upper");

    // A valid component of another world (a bean).
    replace(&dir, "p.wasm", &bytes_of("text-utils"));
    let err = runtime.reload("p.wasm").await.unwrap_err();
    assert!(
        matches!(&err, WasmError::Load(LoadError::WorldMismatch { plugin, world: "plugin", .. }) if plugin == "p.wasm"),
        "{err:?}"
    );
    assert_eq!(served_by(&plugin).await, "upper");

    // A missing file.
    std::fs::remove_file(dir.join("p.wasm")).unwrap();
    let err = runtime.reload("p.wasm").await.unwrap_err();
    assert!(matches!(&err, WasmError::Load(LoadError::NotFound { path, .. }) if path == "p.wasm"), "{err:?}");
    assert_eq!(served_by(&plugin).await, "upper");

    // Then a good file is taken.
    replace(&dir, "p.wasm", &bytes_of("raw-upper"));
    assert_eq!(runtime.reload("p.wasm").await.unwrap(), ReloadOutcome::Reloaded { endpoints: 1 });
    assert_eq!(served_by(&plugin).await, "raw-upper");
    assert_eq!(runtime.reload_stats(), ReloadStats { succeeded: 1, failed: 4, unchanged: 0 });

    // A file no endpoint was loaded from, and a path outside the base directory.
    replace(&dir, "other.wasm", &bytes_of("upper"));
    assert_eq!(runtime.reload("other.wasm").await.unwrap(), ReloadOutcome::NotLoaded);
    let err = runtime.reload("../p.wasm").await.unwrap_err();
    assert!(matches!(err, WasmError::Load(LoadError::ForbiddenPath { .. })), "{err:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn host_store_state_survives_a_reload() {
    let dir = plugin_dir("state", "counter");
    let runtime = runtime_in(&dir);
    let plugin = Plugin::load(&runtime, "p.wasm", Limits::default()).unwrap();
    for n in 1..=3 {
        let out = plugin.process(Exchange::new("x")).await.unwrap();
        assert_eq!(out.header("x-count"), Some(&json!(n)));
    }

    // Another version (upper does not touch the store), then the counter again.
    replace(&dir, "p.wasm", &bytes_of("upper"));
    runtime.reload("p.wasm").await.unwrap();
    assert_eq!(served_by(&plugin).await, "upper");
    assert_eq!(plugin.state().get("count").await.unwrap().as_deref(), Some("3"));

    replace(&dir, "p.wasm", &bytes_of("counter"));
    runtime.reload("p.wasm").await.unwrap();
    let out = plugin.process(Exchange::new("x")).await.unwrap();
    assert_eq!(out.header("x-count"), Some(&json!(4)));
    assert_eq!(out.header("x-processed-by"), None);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bean_rereads_its_methods() {
    let dir = plugin_dir("bean", "text-utils");
    let runtime = runtime_in(&dir);
    let bean = Bean::load(&runtime, "p.wasm", Limits::default(), Vec::new()).await.unwrap();
    assert!(bean.methods().iter().any(|m| m == "reverse"));
    let out = bean.invoke("reverse", Exchange::new("abc")).await.unwrap();
    assert_eq!(out.input.body.as_text(), Some("cba"));

    replace(&dir, "p.wasm", &bytes_of("stream-bean"));
    assert_eq!(runtime.reload("p.wasm").await.unwrap(), ReloadOutcome::Reloaded { endpoints: 1 });
    let methods = bean.methods();
    assert!(methods.iter().any(|m| m == "emit_stream"), "{methods:?}");
    assert!(!methods.iter().any(|m| m == "reverse"), "{methods:?}");
    let err = bean.invoke("reverse", Exchange::new("abc")).await.unwrap_err();
    assert!(matches!(err, WasmError::UnknownMethod { .. }), "{err:?}");

    // A plugin is no bean: refused, the bean keeps its version and methods.
    replace(&dir, "p.wasm", &bytes_of("upper"));
    let err = runtime.reload("p.wasm").await.unwrap_err();
    assert!(matches!(&err, WasmError::Load(LoadError::WorldMismatch { world: "bean", .. })), "{err:?}");
    assert!(bean.methods().iter().any(|m| m == "emit_stream"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_language_rereads_its_entries_and_keeps_them_when_init_refuses() {
    let dir = plugin_dir("language", "tiers");
    let runtime = runtime_in(&dir);
    let config = vec![("big-from".to_string(), "10".to_string())];
    let rules = Language::load(&runtime, "p.wasm", Limits::default(), config).await.unwrap();
    assert!(rules.matches("is-big", Exchange::new("").with_header("amount", 20)).await.unwrap());

    replace(&dir, "p.wasm", &bytes_of("language-chaos"));
    assert_eq!(runtime.reload("p.wasm").await.unwrap(), ReloadOutcome::Reloaded { endpoints: 1 });
    assert!(rules.entries().iter().any(|e| e.name == "not-json"), "{:?}", rules.entries());
    let gone = rules.matches("is-big", Exchange::new("")).await.unwrap_err();
    assert!(matches!(gone, WasmError::UnknownEntry { .. }), "{gone:?}");
    assert!(!rules.matches("never", Exchange::new("")).await.unwrap());

    // A version whose `init` refuses the endpoint's config is not swapped in.
    let strict = Language::load(&runtime, "p.wasm", Limits::default(), vec![("big-from".into(), "many".into())]).await.unwrap();
    replace(&dir, "p.wasm", &bytes_of("tiers"));
    let err = runtime.reload("p.wasm").await.unwrap_err();
    assert!(matches!(&err, WasmError::InitFailed { message, .. } if message.contains("big-from 'many'")), "{err:?}");
    assert!(strict.entries().iter().any(|e| e.name == "not-json"), "the old version stays");
}

#[tokio::test(flavor = "multi_thread")]
async fn watch_reloads_changed_files_and_waits_out_half_written_ones() {
    let dir = plugin_dir("watch", "upper");
    let runtime = runtime_in(&dir);
    let plugin = Plugin::load(&runtime, "p.wasm", Limits::default()).unwrap();
    assert_eq!(served_by(&plugin).await, "upper");
    let watcher = runtime.watch(["."]).expect("watch");

    // An atomic replace is served within about two seconds.
    replace(&dir, "p.wasm", &bytes_of("raw-upper"));
    let took = wait_for_version(&plugin, "raw-upper", Duration::from_secs(10)).await;
    eprintln!("watched replace served after {took:?}");
    assert!(took < Duration::from_secs(5), "took {took:?}");

    // A half-written file (written in place): refused, the old version serves on...
    let upper = bytes_of("upper");
    std::fs::write(dir.join("p.wasm"), &upper[..upper.len() / 3]).unwrap();
    let start = Instant::now();
    while runtime.reload_stats().failed == 0 {
        assert!(start.elapsed() < Duration::from_secs(10), "the half-written file was never tried");
        assert_eq!(served_by(&plugin).await, "raw-upper");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(served_by(&plugin).await, "raw-upper");

    // ...and the rest of the write is picked up.
    std::fs::write(dir.join("p.wasm"), &upper).unwrap();
    wait_for_version(&plugin, "upper", Duration::from_secs(10)).await;
    let stats = runtime.reload_stats();
    assert_eq!((stats.succeeded, stats.failed), (2, 1), "{stats:?}");

    // Files that no endpoint was loaded from are left alone.
    replace(&dir, "unrelated.wasm", b"junk");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(runtime.reload_stats().failed, 1);

    // Dropping the handle stops watching.
    drop(watcher);
    replace(&dir, "p.wasm", &bytes_of("raw-upper"));
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(served_by(&plugin).await, "upper");
    assert_eq!(runtime.reload_stats().succeeded, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_discards_the_spare_instances_of_a_per_call_endpoint() {
    let dir = plugin_dir("per-call", "raw-upper");
    let runtime = runtime_in(&dir);
    let plugin = Plugin::from_uri(&runtime, "wasm:p.wasm?isolation=per-call").unwrap();
    assert_eq!(served_by(&plugin).await, "raw-upper");
    // The background thread makes spares of the old version after that call.
    let start = Instant::now();
    while plugin.idle_instances() == 0 && start.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    replace(&dir, "p.wasm", &bytes_of("upper"));
    runtime.reload("p.wasm").await.unwrap();
    for _ in 0..5 {
        assert_eq!(served_by(&plugin).await, "upper", "no spare of the old version serves a call");
    }
}
