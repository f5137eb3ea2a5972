//! What a guest returns is bounded by its `max-memory` (issue 22, item 2).

use camel_wasm::{Body, Exchange, Plugin, WasmError};

use crate::fixture::{guest, runtime};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aliased_headers_cannot_make_the_host_hold_more_than_max_memory() {
    let max = 16 << 20;
    let hostile = Plugin::from_uri(runtime(), &format!("wasm:{}?max-memory={max}", guest("alias-headers"))).unwrap();
    let upper = Plugin::from_uri(runtime(), &format!("wasm:{}", guest("upper"))).unwrap();
    // 1,900 headers of one 64 KiB value: 119 MiB once copied, from a guest holding about 100 KiB.
    let calls: Vec<_> = (0..4)
        .map(|_| {
            let hostile = hostile.clone();
            tokio::spawn(async move { hostile.process(Exchange::new("1900")).await })
        })
        .collect();
    for call in calls {
        match call.await.unwrap() {
            Err(WasmError::LimitExceeded { plugin, knob, max: bound, reason }) => {
                assert_eq!((plugin.as_str(), knob, bound), ("alias-headers.wasm", "max-memory", max));
                assert!(reason.contains("more than 16777216 bytes"), "{reason}");
            }
            other => panic!("expected the max-memory bound, got {other:?}"),
        }
        assert_eq!(upper.process(Exchange::new("on")).await.unwrap().input.body, Body::Text("ON".into()));
    }
    // Within the bound, the same guest's aliased headers are copied as usual.
    let out = hostile.process(Exchange::new("100")).await.unwrap();
    assert_eq!(out.input.headers.len(), 1, "one name, the last value wins");
    assert_eq!(out.header("x-alias").and_then(|v| v.as_str()).map(str::len), Some(64 * 1024));
}
