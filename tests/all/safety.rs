//! Least privilege and bounded host resources, through real guests: the
//! call allowlist, property bounds, whole-guest memory, no panic on any
//! accepted knob, eviction across endpoints, the recursion guard, and the
//! policy's auth properties.

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use camel_wasm::{CallError, CallRequest, Decision, Exchange, Limits, Plugin, Policy, Principal, Runtime, WasmError};
use tower::{Service, ServiceExt};

use crate::fixture::{guest, guests_dir, runtime};

fn plugin(name: &str, query: &str) -> Plugin {
    Plugin::from_uri(runtime(), &format!("wasm:{}?{query}", guest(name))).expect("load")
}

fn forward_to(uri: &str) -> Exchange {
    Exchange::new("payload").with_header("forward-to", uri)
}

fn guest_message(err: &WasmError) -> String {
    match err {
        WasmError::Guest { error, .. } => error.to_string(),
        other => panic!("expected the guest's error, got {other:?}"),
    }
}

#[tokio::test]
async fn calls_are_denied_unless_allow_call_covers_them() {
    let denied = plugin("forward", "timeout=5").process(forward_to("echo:x")).await.unwrap_err();
    let message = guest_message(&denied);
    assert!(message.contains("scheme 'echo'") && message.contains("allow-call=echo"), "{message}");

    let allowed = plugin("forward", "timeout=5&allow-call=echo").process(forward_to("echo:x")).await.unwrap();
    assert_eq!(allowed.input.body.as_text(), Some("echo(echo:x): payload"));

    let other = plugin("forward", "timeout=5&allow-call=echo").process(forward_to("fail:x")).await.unwrap_err();
    assert!(guest_message(&other).contains("scheme 'fail'"), "{other}");

    let prefix = plugin("forward", "timeout=5&allow-call=echo:audit");
    assert!(prefix.process(forward_to("echo:audit/x")).await.is_ok());
    let err = prefix.process(forward_to("echo:audit?x=1")).await.unwrap_err();
    assert!(guest_message(&err).contains("allow-call=echo:audit?*"), "query options need '?*': {err}");
    let options = plugin("forward", "timeout=5&allow-call=echo:audit?*");
    assert!(options.process(forward_to("echo:audit?x=1")).await.is_ok());
    let err = prefix.process(forward_to("echo:auditor")).await.unwrap_err();
    assert!(guest_message(&err).contains("denied"), "{err}");

    // camel-poll goes through the same check.
    let poll = Exchange::new("").with_header("forward-to", "queue:q").with_header("poll-timeout-ms", 50);
    let err = plugin("forward", "timeout=5").process(poll.clone()).await.unwrap_err();
    assert!(guest_message(&err).contains("scheme 'queue'"), "{err}");
    let ok = plugin("forward", "timeout=5&allow-call=queue").process(poll).await.unwrap();
    assert_eq!(ok.input.body.as_text(), Some("message from queue:q"));
}

#[tokio::test]
async fn an_authorization_policy_can_never_call() {
    let limits = Limits { allow_call: "echo".parse().unwrap(), ..Limits::default() };
    let policy = Policy::load(runtime(), &guest("auth-probe"), limits, Vec::new()).unwrap();
    let mut exchange = Exchange::new("");
    exchange.properties.insert("call-uri".into(), "echo:x".into());
    let Decision::Denied { reason } = policy.evaluate(&exchange).await.unwrap() else { panic!("always denies") };
    assert!(reason.contains("authorization policies may never call"), "{reason}");
}

#[tokio::test]
async fn authorize_replaces_every_auth_property() {
    let policy = Policy::load(runtime(), &guest("auth-probe"), Limits::default(), Vec::new()).unwrap();
    let mut exchange = Exchange::new("");
    exchange.properties.insert("camel.auth.issuer".into(), "https://forged.example".into());
    let principal = Principal { subject: "alice".into(), ..Principal::default() };
    let decision = policy.authorize(&exchange, &principal).await.unwrap();
    assert_eq!(decision, Decision::Denied { reason: "issuer=none".into() });
    let with_issuer = Principal { issuer: Some("https://idp".into()), ..principal };
    let decision = policy.authorize(&exchange, &with_issuer).await.unwrap();
    assert_eq!(decision, Decision::Denied { reason: "issuer=https://idp".into() });
}

#[tokio::test]
async fn a_set_property_flood_fails_with_the_bound_it_hit() {
    let flood = plugin("prop-flood", "timeout=20&max-memory=16777216");
    let err = flood.process(Exchange::new("")).await.unwrap_err();
    assert!(
        matches!(&err, WasmError::LimitExceeded { plugin, knob: "max-property-bytes", max: 1_048_576, .. } if plugin == "prop-flood.wasm"),
        "{err:?}"
    );
    let many = Exchange::new("").with_header("count", 300).with_header("value-bytes", 1);
    let err = flood.process(many.clone()).await.unwrap_err();
    assert!(matches!(err, WasmError::LimitExceeded { knob: "max-properties", max: 256, .. }), "{err:?}");
    assert!(err.to_string().contains("max-properties"), "{err}");
    // Within the bounds, the properties come back.
    let fine = plugin("prop-flood", "max-properties=300");
    let out = fine.process(many).await.unwrap();
    assert_eq!(out.properties.len(), 300);
}

#[tokio::test]
async fn huge_knob_values_saturate_or_are_refused_never_panic() {
    let upper = plugin("upper", "timeout=1e19");
    assert_eq!(upper.limits().timeout, Limits::MAX_TIMEOUT);
    assert_eq!(upper.process(Exchange::new("hi")).await.unwrap().input.body.as_text(), Some("HI"));
    let err = Plugin::from_uri(runtime(), &format!("wasm:{}?max-concurrent=18446744073709551615", guest("upper"))).unwrap_err();
    assert!(err.to_string().contains("'max-concurrent'") && err.to_string().contains("at most"), "{err}");
    let limits = Limits { max_concurrent: usize::MAX, ..Limits::default() };
    let err = Plugin::load(runtime(), &guest("upper"), limits).unwrap_err();
    assert!(err.to_string().contains("max-concurrent"), "{err}");
    let limits = Limits { timeout: Duration::MAX, ..Limits::default() };
    let upper = Plugin::load(runtime(), &guest("upper"), limits).unwrap();
    assert!(upper.process(Exchange::new("x")).await.is_ok());
}

mod every_knob {
    use super::*;
    use proptest::prelude::*;

    fn values() -> impl Strategy<Value = String> {
        prop_oneof![
            any::<u64>().prop_map(|n| n.to_string()),
            any::<u32>().prop_map(|n| n.to_string()),
            (0u64..64).prop_map(|n| n.to_string()),
            any::<f64>().prop_map(|f| f.to_string()),
            Just("1e308".to_string()),
            Just("-1".to_string()),
            Just("per-call".to_string()),
            Just("echo,log:x".to_string()),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 160, ..ProptestConfig::default() })]
        #[test]
        fn from_uri_then_one_call_never_panics(knob in prop::sample::select(Limits::PARAMETERS), value in values()) {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            let uri = format!("wasm:{}?{knob}={value}", guest("upper"));
            rt.block_on(async {
                if let Ok(plugin) = Plugin::from_uri(runtime(), &uri) {
                    // Any outcome but a panic: tiny limits give typed errors.
                    let _ = tokio::time::timeout(Duration::from_secs(10), plugin.process(Exchange::new("x"))).await;
                }
            });
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_endpoint_cannot_starve_another_of_instance_slots() {
    let runtime = Runtime::builder().base_dir(guests_dir()).max_instances(256).memory_ceiling(64 << 20).build().unwrap();
    assert!(runtime.uses_pooling(), "this test is about the pooling allocator");
    runtime.endpoints().register_fn("hold", |_req: CallRequest| async move {
        // Long enough that all 256 calls overlap even on a loaded machine.
        tokio::time::sleep(Duration::from_secs(2)).await;
        Ok("held".to_string())
    });
    let a = Plugin::from_uri(&runtime, "wasm:slow-call.wasm?allow-call=hold&max-concurrent=256&timeout=30&max-memory=8388608")
        .unwrap();
    let calls: Vec<_> = (0..256)
        .map(|_| {
            let a = a.clone();
            tokio::spawn(async move { a.process(Exchange::new("x").with_header("call-uri", "hold:x")).await })
        })
        .collect();
    for call in calls {
        assert_eq!(call.await.unwrap().unwrap().input.body.as_text(), Some("held"));
    }
    assert_eq!(a.idle_instances(), 256, "A holds every slot of the runtime");
    let b = Plugin::from_uri(&runtime, "wasm:upper.wasm?timeout=5").unwrap();
    let out = b.process(Exchange::new("b answers")).await.unwrap();
    assert_eq!(out.input.body.as_text(), Some("B ANSWERS"));
    assert!(a.idle_instances() < 256, "B took the least recently used idle slot");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_instances_are_dropped_after_the_idle_timeout() {
    let runtime = Runtime::builder().base_dir(guests_dir()).idle_timeout(Duration::from_millis(10)).build().unwrap();
    let a = Plugin::from_uri(&runtime, "wasm:upper.wasm").unwrap();
    a.process(Exchange::new("x")).await.unwrap();
    assert_eq!(a.idle_instances(), 1);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let b = Plugin::from_uri(&runtime, "wasm:raw-upper.wasm").unwrap();
    b.process(Exchange::new("y")).await.unwrap();
    assert_eq!(a.idle_instances(), 0, "an instance idle past the timeout is dropped");
}

/// A runtime whose `spawn:` endpoint hands the nested plugin call to another task.
fn recursion_runtime() -> (Runtime, Arc<OnceLock<Plugin>>) {
    let runtime = Runtime::builder().base_dir(guests_dir()).build().unwrap();
    let target: Arc<OnceLock<Plugin>> = Arc::default();
    let inner = target.clone();
    runtime.endpoints().register_fn("spawn", move |req: CallRequest| {
        let inner = inner.clone();
        async move {
            let plugin = inner.get().expect("set").clone();
            let nested = tokio::spawn(req.scope(async move { plugin.process(Exchange::new("nested")).await }));
            match nested.await.expect("join") {
                Ok(out) => Ok(out.input.body.as_text().unwrap_or_default().to_string()),
                Err(e) => Err(CallError::Failed { uri: req.uri, message: e.to_string() }),
            }
        }
    });
    let inner = target.clone();
    runtime.endpoints().register_fn("ready", move |req: CallRequest| {
        let inner = inner.clone();
        async move {
            let mut service = inner.get().expect("set").service();
            match service.ready().await {
                Ok(ready) => Ok(ready.call(Exchange::new("nested")).await.map(|_| "ran".to_string()).unwrap_or_default()),
                Err(e) => Err(CallError::Failed { uri: req.uri, message: e.to_string() }),
            }
        }
    });
    (runtime, target)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_recursion_guard_follows_work_handed_to_another_task() {
    let (runtime, target) = recursion_runtime();
    let forward = Plugin::from_uri(&runtime, "wasm:forward.wasm?allow-call=spawn,ready&timeout=5").unwrap();
    target.set(forward.clone()).unwrap();
    let err = forward.process(forward_to("spawn:x")).await.unwrap_err();
    assert!(guest_message(&err).contains("recursive wasm calls not supported"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nested_call_on_a_single_slot_endpoint_fails_at_once_instead_of_hanging() {
    let (runtime, target) = recursion_runtime();
    let forward = Plugin::from_uri(&runtime, "wasm:forward.wasm?allow-call=spawn,ready&timeout=5&max-concurrent=1").unwrap();
    target.set(forward.clone()).unwrap();
    let started = Instant::now();
    let err = forward.process(forward_to("ready:x")).await.unwrap_err();
    assert!(guest_message(&err).contains("recursive wasm calls not supported"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(4), "refused before the 5 s timeout ({:?})", started.elapsed());
}

#[tokio::test]
async fn tasks_left_over_by_a_guest_never_run_into_the_next_call() {
    let lingering = plugin("lingering", "timeout=5&max-concurrent=1&allow-call=hold");
    lingering.process(Exchange::new("linger")).await.unwrap();
    // The next call waits on the host as long as the left-over task does:
    // had the instance been reused, that task would panic inside this call.
    let out = lingering.process(Exchange::new("hold")).await.unwrap();
    assert_eq!(out.input.body.as_text(), Some("held"));
    let out = lingering.process(Exchange::new("next")).await.unwrap();
    assert_eq!(out.input.body.as_text(), Some("NEXT"));
    assert_eq!(lingering.idle_instances(), 1, "a clean instance is still reused");
}

#[tokio::test]
async fn inspect_works_under_a_small_memory_ceiling() {
    let runtime = Runtime::builder().base_dir(guests_dir()).memory_ceiling(16 << 20).pooling(false).build().unwrap();
    let info = runtime.inspect(&guest("upper")).unwrap();
    assert_eq!(info.worlds, vec!["plugin"]);
}
