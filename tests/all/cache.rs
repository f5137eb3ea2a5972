//! The compiled cache on disk: a restart does not recompile, tampering is caught.

use camel_wasm::{Exchange, Limits, Plugin, Runtime};

use crate::fixture::{guest, guests_dir};

fn runtime_with_cache(dir: &std::path::Path) -> Runtime {
    Runtime::builder().base_dir(guests_dir()).cache_dir(dir).pooling(false).build().unwrap()
}

async fn works(runtime: &Runtime) {
    let plugin = Plugin::load(runtime, &guest("upper"), Limits::default()).unwrap();
    assert_eq!(plugin.process(Exchange::new("cached")).await.unwrap().input.body.as_text(), Some("CACHED"));
}

fn entries(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "cwasm"))
        .collect();
    files.sort();
    files
}

#[tokio::test]
async fn a_restart_loads_from_disk_and_a_tampered_entry_is_recompiled() {
    let dir = std::env::temp_dir().join(format!("camel-wasm-cache-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);

    let first = runtime_with_cache(&dir);
    works(&first).await;
    assert_eq!(first.compile_stats().compiled, 1);
    let files = entries(&dir);
    assert_eq!(files.len(), 1, "one entry written");

    let restarted = runtime_with_cache(&dir);
    works(&restarted).await;
    let stats = restarted.compile_stats();
    assert_eq!((stats.compiled, stats.disk_hits), (0, 1), "no recompilation after a restart");

    // Flip one byte in the middle of the artifact.
    let mut bytes = std::fs::read(&files[0]).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    std::fs::write(&files[0], &bytes).unwrap();
    let after_tamper = runtime_with_cache(&dir);
    works(&after_tamper).await;
    let stats = after_tamper.compile_stats();
    assert_eq!((stats.compiled, stats.disk_hits, stats.disk_rejected), (1, 0, 1));
    assert_ne!(std::fs::read(&files[0]).unwrap(), bytes, "the entry was rewritten");

    // A truncated file is rejected the same way.
    std::fs::write(&files[0], b"short").unwrap();
    let after_truncation = runtime_with_cache(&dir);
    works(&after_truncation).await;
    assert_eq!(after_truncation.compile_stats().disk_rejected, 1);
    let _ = std::fs::remove_dir_all(&dir);
}
