//! Failed hot reloads leave nothing behind: a candidate that compiles but fits
//! no endpoint is neither kept in memory nor written to the disk cache, and an
//! old version leaves both once no endpoint runs it.

use std::path::Path;
use std::time::{Duration, Instant};

use camel_wasm::{Limits, LoadError, Plugin, ReloadOutcome, Runtime, WasmError};

use crate::cache::{entries, fresh_dir};
use crate::fixture::{eventually, guest, guests_dir};
use crate::reload::{bytes_of, plugin_dir, replace, served_by};

/// How many unfitting versions each test writes.
const CANDIDATES: usize = 60;

/// A distinct, valid component of no world: it compiles, and no endpoint takes it.
fn unfitting(i: usize) -> Vec<u8> {
    wat::parse_str(format!(r#"(component (core module (func (export "f{i}"))))"#)).expect("wat")
}

fn runtime_with_cache(dir: &Path, cache: &Path) -> Runtime {
    Runtime::builder().base_dir(dir).cache_dir(cache).max_instances(16).build().expect("runtime")
}

/// This process's resident set in KiB (0 where /proc is missing); printed, not asserted.
fn resident_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap_or_default();
    line.split_whitespace().nth(1).and_then(|n| n.parse().ok()).unwrap_or(0)
}

fn is_unfitting(err: &WasmError) -> bool {
    matches!(err, WasmError::Load(LoadError::WorldMismatch { world: "plugin", .. }))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unfitting_reloads_leave_no_compiled_component_or_cache_entry() {
    let dir = plugin_dir("hostile-unfitting", "upper");
    let cache = fresh_dir("hostile-unfitting");
    let runtime = runtime_with_cache(&dir, &cache);
    let plugin = Plugin::load(&runtime, "p.wasm", Limits::default()).unwrap();
    assert_eq!(served_by(&plugin).await, "upper");
    assert_eq!(runtime.compiled_count(), 1);
    assert_eq!(entries(&cache).len(), 1);

    let (started, resident_before) = (Instant::now(), resident_kib());
    let mut most_compiled = 0;
    for i in 0..CANDIDATES {
        replace(&dir, "p.wasm", &unfitting(i));
        let err = runtime.reload("p.wasm").await.unwrap_err();
        assert!(is_unfitting(&err), "candidate {i}: {err:?}");
        most_compiled = most_compiled.max(runtime.compiled_count());
        if i % 10 == 0 {
            assert_eq!(served_by(&plugin).await, "upper", "candidate {i}: the old version serves on");
        }
        assert!(started.elapsed() < Duration::from_secs(120), "candidate {i}: too slow");
    }
    let on_disk = entries(&cache).len();
    eprintln!(
        "{CANDIDATES} unfitting reloads in {:?}: at most {most_compiled} compiled, {on_disk} cache entries, \
         resident {resident_before} -> {} KiB",
        started.elapsed(),
        resident_kib()
    );
    assert_eq!(served_by(&plugin).await, "upper");
    assert!(most_compiled <= 1, "{most_compiled} components compiled after {CANDIDATES} unfitting reloads");
    assert_eq!(on_disk, 1, "only the loaded version is cached, not the {CANDIDATES} candidates");

    // A version that fits: the old one leaves memory; its entry may stay on disk (under the size bound).
    replace(&dir, "p.wasm", &bytes_of("raw-upper"));
    assert_eq!(runtime.reload("p.wasm").await.unwrap(), ReloadOutcome::Reloaded { endpoints: 1 });
    assert_eq!(served_by(&plugin).await, "raw-upper");
    assert_eq!(runtime.compiled_count(), 1, "the old version left the compiled set");
    let on_disk = entries(&cache);
    assert!(on_disk.len() <= 2, "the new version's entry and at most the old one's: {on_disk:?}");
    let stats = runtime.reload_stats();
    assert_eq!((stats.succeeded, stats.failed), (1, CANDIDATES as u64), "{stats:?}");
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir_all(&cache);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watched_unfitting_writes_leave_nothing_behind() {
    let dir = plugin_dir("hostile-watched", "upper");
    let cache = fresh_dir("hostile-watched");
    let runtime = runtime_with_cache(&dir, &cache);
    let plugin = Plugin::load(&runtime, "p.wasm", Limits::default()).unwrap();
    let _watcher = runtime.watch_with_quiet(["."], Duration::from_millis(20)).expect("watch");
    for i in 0..10 {
        replace(&dir, "p.wasm", &unfitting(i));
        let tried = eventually(Duration::from_secs(10), || runtime.reload_stats().failed == i as u64 + 1).await;
        assert!(tried, "write {i} was not tried: {:?}", runtime.reload_stats());
        assert!(runtime.compiled_count() <= 1, "write {i}: {} compiled", runtime.compiled_count());
    }
    assert_eq!(served_by(&plugin).await, "upper");
    assert_eq!(entries(&cache).len(), 1, "{:?}", entries(&cache));
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir_all(&cache);
}

#[tokio::test]
async fn an_endpoint_dropped_takes_its_component_out_of_memory() {
    let dir = plugin_dir("hostile-dropped", "upper");
    let runtime = Runtime::builder().base_dir(&dir).max_instances(16).build().expect("runtime");
    let a = Plugin::load(&runtime, "p.wasm", Limits::default()).unwrap();
    let b = Plugin::load(&runtime, "p.wasm", Limits::default()).unwrap();
    assert_eq!((runtime.compiled_count(), runtime.compile_stats().compiled), (1, 1), "compiled once for two endpoints");
    drop(a);
    assert_eq!(runtime.compiled_count(), 1, "b still runs it");
    drop(b);
    assert_eq!(runtime.compiled_count(), 0, "no endpoint runs it any more");
    // Inspecting is no endpoint either.
    runtime.inspect("p.wasm").unwrap();
    assert_eq!(runtime.compiled_count(), 0);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_size_bound_prunes_all_but_the_loaded_entries() {
    let dir = plugin_dir("hostile-bound", "upper");
    let cache = fresh_dir("hostile-bound");
    // Left by an earlier run: entries of contents this one never loads.
    {
        let earlier = runtime_with_cache(&dir, &cache);
        for name in ["counter", "text-utils"] {
            std::fs::copy(guests_dir().join(guest(name)), dir.join(format!("{name}.wasm"))).unwrap();
            earlier.inspect(&format!("{name}.wasm")).unwrap();
        }
        Plugin::load(&earlier, "p.wasm", Limits::default()).unwrap();
        assert_eq!(entries(&cache).len(), 3);
    }
    let bound = |dir: &Path, cache: &Path| {
        Runtime::builder().base_dir(dir).cache_dir(cache).cache_max_bytes(1).max_instances(16).build().expect("runtime")
    };
    // At open nothing is loaded yet: every entry is over a one-byte bound.
    let runtime = bound(&dir, &cache);
    assert_eq!(entries(&cache).len(), 0, "{:?}", entries(&cache));
    let plugin = Plugin::load(&runtime, "p.wasm", Limits::default()).unwrap();
    assert_eq!(entries(&cache).len(), 1, "the loaded version's entry stays, over the bound");

    replace(&dir, "p.wasm", &bytes_of("raw-upper"));
    assert_eq!(runtime.reload("p.wasm").await.unwrap(), ReloadOutcome::Reloaded { endpoints: 1 });
    assert_eq!(served_by(&plugin).await, "raw-upper");
    let left = entries(&cache);
    assert_eq!(left.len(), 1, "only the new version's entry: {left:?}");
    // It is the new version's: a restart (within the default bound) loads it from disk.
    drop((plugin, runtime));
    let restarted = runtime_with_cache(&dir, &cache);
    let plugin = Plugin::load(&restarted, "p.wasm", Limits::default()).unwrap();
    assert_eq!(served_by(&plugin).await, "raw-upper");
    assert_eq!((restarted.compile_stats().compiled, restarted.compile_stats().disk_hits), (0, 1));
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir_all(&cache);
}
