//! One guest cannot take another endpoint's instance slots (issue 22, item 1).

use std::time::{Duration, Instant};

use camel_wasm::{Body, CallRequest, Exchange, Plugin, Runtime, WasmError};

use crate::fixture::{guest, guests_dir};

/// `component` with `extra` more core instances appended, each with its own one-page memory.
///
/// The new sections go at the end of the top-level component (the binary
/// format allows sections in any order): a core module defining a memory, and
/// a core instance section instantiating it `extra` times.
pub fn with_extra_memories(component: &[u8], extra: u32) -> Vec<u8> {
    let module = wat::parse_str("(module (memory 1))").unwrap();
    let mut modules = 0u32;
    let mut at = 8;
    while at < component.len() {
        let id = component[at];
        let (size, len) = leb(&component[at + 1..]);
        modules += u32::from(id == 1);
        at += 1 + len + size as usize;
    }
    let mut out = component.to_vec();
    section(&mut out, 1, &module);
    let mut instances = Vec::new();
    push_leb(&mut instances, extra);
    for _ in 0..extra {
        instances.push(0x00);
        push_leb(&mut instances, modules);
        instances.push(0x00); // no instantiation arguments
    }
    section(&mut out, 2, &instances);
    out
}

fn leb(bytes: &[u8]) -> (u32, usize) {
    let (mut value, mut shift) = (0u32, 0);
    for (i, byte) in bytes.iter().enumerate() {
        value |= u32::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return (value, i + 1);
        }
        shift += 7;
    }
    panic!("truncated LEB128");
}

fn push_leb(out: &mut Vec<u8>, mut value: u32) {
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

fn section(out: &mut Vec<u8>, id: u8, payload: &[u8]) {
    out.push(id);
    push_leb(out, payload.len() as u32);
    out.extend_from_slice(payload);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guest_of_many_memories_cannot_starve_another_endpoint() {
    let dir = std::env::temp_dir().join(format!("camel-wasm-hostile-pool-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let slow = std::fs::read(guests_dir().join(guest("slow-call"))).unwrap();
    std::fs::write(dir.join("hostile.wasm"), with_extra_memories(&slow, 15)).unwrap();
    std::fs::copy(guests_dir().join(guest("upper")), dir.join("upper.wasm")).unwrap();
    // Default knobs and the default pool (256 instances, 512 memories).
    let runtime = Runtime::builder().base_dir(&dir).build().unwrap();
    assert!(runtime.uses_pooling());
    runtime.endpoints().register_fn("park", |_req: CallRequest| async move {
        tokio::time::sleep(Duration::from_millis(2500)).await;
        Ok("parked".to_string())
    });
    let hostile: Vec<Plugin> = ["a", "b"]
        .iter()
        .map(|ns| Plugin::from_uri(&runtime, &format!("wasm:hostile.wasm?allow-call=park&state-namespace={ns}")).unwrap())
        .collect();
    let per_call = Plugin::from_uri(&runtime, "wasm:upper.wasm?isolation=per-call").unwrap();
    let reused = Plugin::from_uri(&runtime, "wasm:upper.wasm").unwrap();
    assert_eq!(reused.process(Exchange::new("warm")).await.unwrap().input.body, Body::Text("WARM".into()));

    // 16 calls on each hostile endpoint (its max-concurrent), each holding its instance for 2.5 s:
    // 32 instances of 16 memories would take all 512 pooled memories, and evict upper's.
    let parked: Vec<_> = hostile
        .iter()
        .flat_map(|plugin| (0..16).map(move |_| plugin.clone()))
        .map(|plugin| tokio::spawn(async move { plugin.process(Exchange::new("x").with_header("call-uri", "park:x")).await }))
        .collect();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(reused.idle_instances(), 1, "upper's warm instance is not evicted to make room for the hostile ones");
    let until = Instant::now() + Duration::from_millis(1500);
    let mut answered = 0;
    while Instant::now() < until {
        for plugin in [&per_call, &reused] {
            let out = plugin.process(Exchange::new("hi")).await;
            assert_eq!(out.unwrap().input.body, Body::Text("HI".into()), "upper keeps answering while the hostile calls hold");
            answered += 1;
        }
    }
    assert!(answered >= 4, "{answered} answers");
    let mut refused = 0;
    for call in parked {
        match call.await.unwrap() {
            Ok(out) => assert_eq!(out.input.body, Body::Text("parked".into())),
            Err(WasmError::NoInstanceSlot { plugin, reason }) => {
                assert_eq!(plugin, "hostile.wasm");
                assert!(reason.contains("shared memories"), "{reason}");
                refused += 1;
            }
            Err(other) => panic!("unexpected: {other}"),
        }
    }
    assert!(refused > 0, "the hostile endpoints met their bound");
    assert!(refused < 32, "each hostile endpoint keeps at least its reserved instance");
    let _ = std::fs::remove_dir_all(&dir);
}
