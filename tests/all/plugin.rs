//! The `plugin` world through real guests.

use std::time::Duration;

use camel_wasm::{Body, Exchange, GuestError, Limits, LoadError, Plugin, WasmError};
use serde_json::json;

use crate::fixture::{guest, runtime, snapshots};

fn load(name: &str) -> Plugin {
    Plugin::load(runtime(), &guest(name), Limits::default()).expect("load")
}

/// `name` allowed to call the test endpoints (and `nosuch:` and `wasm:`, to see how those fail).
fn load_calling(name: &str) -> Plugin {
    let limits = Limits { allow_call: "echo,queue,slow,fail,nosuch,nested,wasm".parse().unwrap(), ..Limits::default() };
    Plugin::load(runtime(), &guest(name), limits).expect("load")
}

fn sample() -> Exchange {
    let mut ex = Exchange::new("hello camel")
        .with_header("s42", "42")
        .with_header("n42", 42)
        .with_header("nested", json!({"a": [1, 2.5, null], "b": "x"}))
        .with_property("flag", true)
        .with_property("text-true", "true");
    ex.route_id = Some("route-1".into());
    ex.message_id = Some("msg-1".into());
    ex.correlation_id = "corr-1".into();
    ex
}

#[tokio::test]
async fn upper_uppercases_and_tags() {
    let out = load("upper").process(sample()).await.unwrap();
    assert_eq!(out.input.body, Body::Text("HELLO CAMEL".into()));
    assert_eq!(out.header("x-processed-by"), Some(&json!("upper")));
    snapshots(|| insta::assert_json_snapshot!("upper", out));
}

#[tokio::test]
async fn untouched_values_keep_their_types_and_ids_pass_through() {
    let sent = sample();
    for guest_name in ["upper", "raw-upper"] {
        let out = load(guest_name).process(sent.clone()).await.unwrap();
        assert_eq!(out.header("s42"), Some(&json!("42")), "{guest_name}: string stays a string");
        assert_eq!(out.header("n42"), Some(&json!(42)), "{guest_name}: number stays a number");
        assert_eq!(out.header("nested"), sent.header("nested"));
        assert_eq!(out.property("text-true"), Some(&json!("true")));
        assert_eq!(out.property("flag"), Some(&json!(true)));
        assert_eq!(out.route_id.as_deref(), Some("route-1"));
        assert_eq!(out.message_id.as_deref(), Some("msg-1"));
        assert_eq!(out.correlation_id, "corr-1");
    }
    let raw = load("raw-upper").process(sent).await.unwrap();
    assert_eq!(raw.header("x-processed-by"), Some(&json!("raw-upper")));
    snapshots(|| insta::assert_json_snapshot!("raw-upper", raw));
}

#[tokio::test]
async fn upper_rejects_a_non_text_body_with_the_guests_error() {
    let err = load("upper").process(Exchange::new(json!({"a": 1}))).await.unwrap_err();
    assert!(
        matches!(&err, WasmError::Guest { plugin, error: GuestError::TypeConversion(m) }
            if plugin == "upper.wasm" && m.contains("text body")),
        "{err:?}"
    );
}

#[tokio::test]
async fn json_enrich_adds_fields() {
    let plugin = load("json-enrich");
    let out = plugin.process(Exchange::new(json!({"order": 7, "items": ["a"]}))).await.unwrap();
    assert_eq!(out.input.body, Body::Json(json!({"order": 7, "items": ["a"], "enriched": true, "enriched_by": "json-enrich"})));
    snapshots(|| insta::assert_json_snapshot!("json-enrich", out));
    let text = plugin.process(Exchange::new(r#"{"from":"text"}"#)).await.unwrap();
    assert_eq!(text.input.body, Body::Json(json!({"from": "text", "enriched": true, "enriched_by": "json-enrich"})));
    let err = plugin.process(Exchange::new("[1,2]")).await.unwrap_err();
    assert!(matches!(err, WasmError::Guest { error: GuestError::TypeConversion(_), .. }), "{err:?}");
}

#[tokio::test]
async fn props_reads_and_sets_properties_of_the_exchange_in_flight() {
    let plugin = load("props");
    let out = plugin.process(sample().with_property("greeting", "hola")).await.unwrap();
    assert_eq!(out.property("props.greeting-upper"), Some(&json!("HOLA")));
    assert_eq!(out.property("props.visited"), Some(&json!(true)));
    assert_eq!(out.property("props.returned"), Some(&json!("yes")));
    assert_eq!(out.property("flag"), Some(&json!(true)), "properties sent are kept");
    assert_eq!(out.property("greeting"), Some(&json!("hola")));
    snapshots(|| insta::assert_json_snapshot!("props", out));
    // Nothing leaks from one call into the next on the same instance.
    let next = plugin.process(Exchange::new("x")).await.unwrap();
    assert_eq!(next.property("props.greeting-upper"), Some(&json!("NONE")));
    assert_eq!(next.property("greeting"), None);
}

#[tokio::test]
async fn counter_keeps_state_per_endpoint_and_the_file_is_compiled_once() {
    let a = load("counter");
    let b = load("counter");
    for expected in 1..=3 {
        let out = a.process(Exchange::new("tick")).await.unwrap();
        assert_eq!(out.header("x-count"), Some(&json!(expected)));
    }
    let out = b.process(Exchange::new("tick")).await.unwrap();
    assert_eq!(out.header("x-count"), Some(&json!(1)), "a second endpoint has its own store");
    assert_eq!(a.state().get("count").await.unwrap().as_deref(), Some("3"));
    // Per-call isolation loses guest statics but not host-store state.
    let per_call = Plugin::from_uri(runtime(), &format!("wasm:{}?isolation=per-call", guest("counter"))).unwrap();
    for expected in 1..=2 {
        let out = per_call.process(Exchange::new("tick")).await.unwrap();
        assert_eq!(out.header("x-count"), Some(&json!(expected)));
    }
    let before = runtime().compiled_count();
    let _c = load("counter");
    assert_eq!(runtime().compiled_count(), before, "loading again reuses the compiled file");
}

#[tokio::test]
async fn forward_calls_registered_endpoints() {
    let plugin = load_calling("forward");
    let out = plugin.process(Exchange::new("ping").with_header("forward-to", "echo:audit")).await.unwrap();
    assert_eq!(out.input.body, Body::Text("echo(echo:audit): ping".into()));
    snapshots(|| insta::assert_json_snapshot!("forward", out));
}

#[tokio::test]
async fn camel_poll_dispatches_in_the_pull_model_and_honours_its_timeout() {
    let plugin = load_calling("forward");
    let polled = Exchange::new("").with_header("forward-to", "queue:orders").with_header("poll-timeout-ms", 200);
    let out = plugin.process(polled).await.unwrap();
    assert_eq!(out.input.body.as_text(), Some("message from queue:orders"));
    let started = std::time::Instant::now();
    let slow = Exchange::new("").with_header("forward-to", "slow:queue").with_header("poll-timeout-ms", 50);
    let err = plugin.process(slow).await.unwrap_err();
    assert!(matches!(err, WasmError::Guest { error: GuestError::Timeout, .. }), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(2), "the poll gave up at its timeout, not the endpoint's 3 s");
}

#[tokio::test]
async fn forward_gets_wasm_errors_not_traps() {
    let plugin = load_calling("forward");
    let cases = [
        ("nosuch:x", "no endpoint registered for scheme 'nosuch'"),
        ("fail:x", "downstream refused"),
        ("wasm:upper.wasm", "recursive wasm calls not supported"),
    ];
    for (uri, expected) in cases {
        let err = plugin.process(Exchange::new("p").with_header("forward-to", uri)).await.unwrap_err();
        assert!(
            matches!(&err, WasmError::Guest { error: GuestError::Processor(m), .. } if m.contains(expected)),
            "{uri}: {err:?}"
        );
    }
    // The instance is still healthy after the guest-level errors.
    let ok = plugin.process(Exchange::new("p").with_header("forward-to", "echo:x")).await.unwrap();
    assert_eq!(ok.input.body.as_text(), Some("echo(echo:x): p"));
}

#[tokio::test]
async fn a_wasm_call_from_inside_a_guest_call_is_refused_at_any_depth() {
    let upper = load("upper");
    let endpoints = runtime().endpoints();
    let inner = upper.clone();
    endpoints.register_fn("nested", move |req: camel_wasm::CallRequest| {
        let inner = inner.clone();
        async move {
            inner
                .process(Exchange::new(req.payload))
                .await
                .map(|ex| ex.input.body.as_text().unwrap_or_default().to_string())
                .map_err(|e| camel_wasm::CallError::Failed { uri: req.uri, message: e.to_string() })
        }
    });
    let err = load_calling("forward").process(Exchange::new("p").with_header("forward-to", "nested:upper")).await.unwrap_err();
    assert!(err.to_string().contains("recursive wasm calls not supported"), "{err}");
    // The same plugin called directly still works.
    assert_eq!(upper.process(Exchange::new("ok")).await.unwrap().input.body.as_text(), Some("OK"));
}

#[tokio::test]
async fn init_runs_per_instance_and_a_failed_init_is_retried() {
    let plugin = load("flaky-init");
    let err = plugin.process(Exchange::new("a")).await.unwrap_err();
    assert!(
        matches!(&err, WasmError::InitFailed { plugin, message }
            if plugin == "flaky-init.wasm" && message.contains("first init always fails")),
        "{err:?}"
    );
    let out = plugin.process(Exchange::new("b")).await.unwrap();
    assert_eq!(out.header("x-init-attempts"), Some(&json!(2)));
    // The warm instance is reused: init does not run again.
    let out = plugin.process(Exchange::new("c")).await.unwrap();
    assert_eq!(out.header("x-init-attempts"), Some(&json!(2)));
}

#[tokio::test]
async fn a_returned_stream_body_drains_and_the_instance_is_reused() {
    let plugin = load("stream-out");
    for _ in 0..3 {
        let out = plugin.process(Exchange::new("x")).await.unwrap();
        let stream = out.input.body.as_stream().expect("a stream body").clone();
        assert_eq!(stream.size_hint, Some(5));
        assert_eq!(stream.content_type.as_deref(), Some("text/plain"));
        assert_eq!(stream.read_all(1024).await.unwrap(), bytes::Bytes::from_static(b"hello"));
        // The drain hands the instance back once the stream ended cleanly.
        wait_until(|| plugin.streams_in_flight() == 0).await;
        assert_eq!(plugin.idle_instances(), 1);
    }
}

/// Waits (at most 2 s) for `done`.
async fn wait_until(done: impl Fn() -> bool) {
    let start = std::time::Instant::now();
    while !done() {
        assert!(start.elapsed() < std::time::Duration::from_secs(2), "not within 2 s");
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
}

#[tokio::test]
async fn host_store_bounds_are_errors_the_guest_sees() {
    let uri = format!("wasm:{}?state-max-entries=5", guest("state-flood"));
    let plugin = Plugin::from_uri(runtime(), &uri).unwrap();
    let err = plugin.process(Exchange::new("x")).await.unwrap_err();
    assert!(
        matches!(&err, WasmError::Guest { error: GuestError::Processor(m), .. } if m.contains("the store is full (5 entries)")),
        "{err:?}"
    );
    assert_eq!(plugin.state().key_count().await.unwrap(), 5, "nothing past the bound, nothing silently dropped below it");
}

#[tokio::test]
async fn many_concurrent_calls_on_one_plugin() {
    let plugin = load("upper");
    let calls = (0..64).map(|i| {
        let plugin = plugin.clone();
        tokio::spawn(async move { plugin.process(Exchange::new(format!("msg {i}"))).await })
    });
    for (i, call) in calls.enumerate() {
        let out = call.await.unwrap().unwrap();
        assert_eq!(out.input.body.as_text(), Some(format!("MSG {i}").as_str()));
    }
    assert!(plugin.idle_instances() <= plugin.limits().max_concurrent);
}

#[tokio::test]
async fn wrong_world_and_missing_files_are_load_errors() {
    let err = camel_wasm::Policy::load(runtime(), &guest("upper"), Limits::default(), vec![]).unwrap_err();
    assert!(
        matches!(&err, WasmError::Load(LoadError::WorldMismatch { world: "authorization-policy", plugin, .. }) if plugin == "upper.wasm"),
        "{err:?}"
    );
    assert!(err.to_string().contains("evaluate"), "names the missing export: {err}");
    let err = Plugin::load(runtime(), "nope.wasm", Limits::default()).unwrap_err();
    assert!(matches!(err, WasmError::Load(LoadError::NotFound { .. })), "{err:?}");
    let err = Plugin::from_uri(runtime(), "wasm:../upper.wasm").unwrap_err();
    assert!(matches!(err, WasmError::Load(LoadError::ForbiddenPath { .. })), "{err:?}");
}
