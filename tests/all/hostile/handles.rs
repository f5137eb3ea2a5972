//! Leaked WASI handles do not outlive the call (issue 22, item 7).

use camel_wasm::{Exchange, Plugin, TrapReason, WasmError};
use serde_json::json;

use crate::fixture::{guest, runtime};

async fn calls_of(plugin: &Plugin, leak: &str) -> Result<serde_json::Value, WasmError> {
    Ok(plugin.process(Exchange::new(leak)).await?.header("x-instance-calls").cloned().unwrap())
}

#[tokio::test]
async fn an_instance_that_leaks_handles_is_not_reused() {
    let plugin = Plugin::from_uri(runtime(), &format!("wasm:{}", guest("handle-leak"))).unwrap();
    assert_eq!(calls_of(&plugin, "0").await.unwrap(), json!(1));
    assert_eq!(calls_of(&plugin, "10").await.unwrap(), json!(2), "a few handles: still reused");
    // 2,000 pollables left behind: the next call gets a fresh instance.
    assert_eq!(calls_of(&plugin, "2000").await.unwrap(), json!(3));
    assert_eq!(calls_of(&plugin, "0").await.unwrap(), json!(1), "the leaky instance was dropped");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_call_holds_a_bounded_number_of_handles_and_others_are_unaffected() {
    let plugin = Plugin::from_uri(runtime(), &format!("wasm:{}", guest("handle-leak"))).unwrap();
    match calls_of(&plugin, "99000").await {
        Err(WasmError::Trap { plugin, reason: TrapReason::Other(reason) }) => {
            assert_eq!(plugin, "handle-leak.wasm");
            assert!(reason.contains("more than 10000 live handles"), "{reason}");
        }
        other => panic!("expected the handle bound, got {other:?}"),
    }
    // 16 concurrent leaky calls under the bound: none fails on a reused leaky instance.
    let calls: Vec<_> = (0..16)
        .map(|_| {
            let plugin = plugin.clone();
            tokio::spawn(async move { calls_of(&plugin, "3000").await })
        })
        .collect();
    for call in calls {
        assert_eq!(call.await.unwrap().unwrap(), json!(1), "every leaky call ran on a fresh instance");
    }
}
