//! 1,000 returned streams in a row, drained, with no memory growth: its own
//! test binary, so no other test shares the resident-memory figure.

use std::path::PathBuf;

use camel_wasm::{Exchange, Plugin, Runtime};

/// Resident memory of this process, in bytes (`/proc/self/statm`).
fn resident_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    let pages: u64 = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4096
}

async fn one_stream(plugin: &Plugin) {
    let out = plugin.process(Exchange::new("").with_header("x-stream-bytes", 256 * 1024)).await.unwrap();
    let bytes = out.input.body.as_stream().expect("a stream").read_all(1 << 20).await.unwrap();
    assert_eq!(bytes.len(), 256 * 1024);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_returned_streams_in_a_row_do_not_grow_memory() {
    let dist = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("guests/dist");
    let runtime = Runtime::builder().base_dir(dist).build().unwrap();
    let plugin = Plugin::from_uri(&runtime, "wasm:stream-gen.wasm?max-memory=16777216").unwrap();
    // Warm up: the instance, its memory and the allocator's pools settle.
    for _ in 0..100 {
        one_stream(&plugin).await;
    }
    let before = resident_bytes();
    for _ in 0..1_000 {
        one_stream(&plugin).await;
    }
    // The last drain hands its instance back on its own task.
    for _ in 0..200 {
        if plugin.streams_in_flight() == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let after = resident_bytes();
    let growth = after.saturating_sub(before);
    eprintln!("resident before {} KiB, after {} KiB", before / 1024, after / 1024);
    assert!(growth < 8 << 20, "grew {} KiB over 1,000 streams of 256 KiB", growth / 1024);
    assert_eq!(plugin.streams_in_flight(), 0);
    assert_eq!(plugin.idle_instances(), 1, "one instance served all 1,100 streams");
}
