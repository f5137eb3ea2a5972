//! The Python guests (`guests/py-*`, componentize-py) through the public API,
//! one test per guest at least, with snapshots of what they return.

use bytes::Bytes;
use camel_wasm::{
    Bean, Body, Decision, Exchange, GuestError, Limits, Plugin, Policy, Source, StreamBody, StreamError, WasmError,
};
use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::Sha256;

use crate::fixture::snapshots;
use crate::python::{PYTHON_GUESTS, py_guest, python_runtime};
use crate::source::{Seen, client, options, recorder, unchanged, url};

fn plugin(name: &str) -> Plugin {
    Plugin::load(python_runtime(), &py_guest(name), Limits::default()).expect("load")
}

fn config(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn guest_error(result: Result<Exchange, WasmError>) -> GuestError {
    match result {
        Err(WasmError::Guest { error, .. }) => error,
        other => panic!("expected a guest error, got {other:?}"),
    }
}

#[test]
fn every_python_guest_is_built_and_fits_its_world() {
    let worlds: Vec<(&str, Vec<&str>)> =
        PYTHON_GUESTS.iter().map(|name| (*name, python_runtime().inspect(&py_guest(name)).expect("inspect").worlds)).collect();
    snapshots(|| insta::assert_json_snapshot!("python-worlds", worlds));
}

#[tokio::test]
async fn py_upper_uppercases_and_tags_and_leaves_the_rest_alone() {
    let mut sent = Exchange::new("hello from python").with_header("n42", 42).with_property("flag", true);
    sent.correlation_id = "corr-py".into();
    let out = plugin("py-upper").process(sent).await.unwrap();
    assert_eq!(out.input.body, Body::Text("HELLO FROM PYTHON".into()));
    assert_eq!(out.header("x-lang"), Some(&json!("python")));
    assert_eq!(out.header("n42"), Some(&json!(42)), "an untouched header keeps its type");
    assert_eq!(out.property("flag"), Some(&json!(true)));
    assert_eq!(out.correlation_id, "corr-py");
    snapshots(|| insta::assert_json_snapshot!("py-upper", out));
}

#[tokio::test]
async fn py_json_enrich_reads_and_writes_json_headers_and_properties() {
    let sent = Exchange::new(json!({"order": 7, "items": [1, 2]})).with_header("x-tenant", "acme").with_property("priority", 3);
    let out = plugin("py-json-enrich").process(sent).await.unwrap();
    assert_eq!(
        out.input.body,
        Body::Json(json!({"order": 7, "items": [1, 2], "enriched_by": "py-json-enrich", "tenant": "acme", "priority": 3}))
    );
    assert_eq!(out.header("x-fields"), Some(&json!(5)));
    assert_eq!(out.property("enriched"), Some(&json!(true)));
    snapshots(|| insta::assert_json_snapshot!("py-json-enrich", out));

    let text = plugin("py-json-enrich").process(Exchange::new(r#"{"a":1}"#)).await.unwrap();
    assert_eq!(text.input.body, Body::Json(json!({"a": 1, "enriched_by": "py-json-enrich", "tenant": null, "priority": null})));
    let error = guest_error(plugin("py-json-enrich").process(Exchange::new(json!([1, 2]))).await);
    assert_eq!(error, GuestError::TypeConversion("py-json-enrich: expected a JSON object, got list".into()));
    let error = guest_error(plugin("py-json-enrich").process(Exchange::new("not json")).await);
    assert!(matches!(&error, GuestError::TypeConversion(m) if m.starts_with("py-json-enrich: body is not JSON")), "{error:?}");
}

#[tokio::test]
async fn py_text_is_a_bean_with_methods_and_init_config() {
    let bean = Bean::load(python_runtime(), &py_guest("py-text"), Limits::default(), config(&[("suffix", "?!")])).await.unwrap();
    assert_eq!(&*bean.methods(), ["upper", "reverse", "count", "fail", "suffix"]);
    let mut results = Vec::new();
    for method in ["upper", "reverse", "count", "suffix"] {
        let out = bean.invoke(method, Exchange::new("Camel")).await.unwrap();
        results.push((method, out.input.body));
    }
    assert_eq!(results[0].1, Body::Text("CAMEL".into()));
    assert_eq!(results[1].1, Body::Text("lemaC".into()));
    assert_eq!(results[2].1, Body::Json(json!({"count": 5})));
    assert_eq!(results[3].1, Body::Text("Camel?!".into()));
    snapshots(|| insta::assert_json_snapshot!("py-text", results));
    assert_eq!(
        guest_error(bean.invoke("fail", Exchange::new("x")).await),
        GuestError::Processor("py-text: fail was called".into())
    );
    let unknown = bean.invoke("nope", Exchange::new("x")).await.unwrap_err();
    assert!(matches!(&unknown, WasmError::UnknownMethod { method, .. } if method == "nope"), "{unknown:?}");
}

#[tokio::test]
async fn py_role_check_grants_the_role_and_denies_the_rest() {
    let load =
        |role: &str| Policy::load(python_runtime(), &py_guest("py-role-check"), Limits::default(), config(&[("role", role)]));
    let ops = load("ops").unwrap();
    let granted = ops.evaluate(&Exchange::new("x").with_property("camel.auth.roles", json!(["dev", "ops"]))).await.unwrap();
    assert_eq!(granted, Decision::Granted);
    let listed = ops.evaluate(&Exchange::new("x").with_property("camel.auth.roles", "dev, ops")).await.unwrap();
    assert_eq!(listed, Decision::Granted, "a comma-separated string counts too");
    let denied = ops.evaluate(&Exchange::new("x").with_property("camel.auth.roles", json!(["dev"]))).await.unwrap();
    assert_eq!(denied, Decision::Denied { reason: "py-role-check: requires role 'ops'".into() });
    let anonymous = ops.evaluate(&Exchange::new("x")).await.unwrap();
    assert!(matches!(anonymous, Decision::Denied { .. }));
    snapshots(|| insta::assert_json_snapshot!("py-role-check", (granted, denied)));
    // init's exception fails the load with its message.
    let empty = match load("") {
        Err(e) => e.to_string(),
        Ok(policy) => policy.evaluate(&Exchange::new("x")).await.expect_err("init must fail").to_string(),
    };
    assert!(empty.contains("py-role-check: config 'role' is empty"), "{empty}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn py_counter_keeps_state_and_its_increment_loses_no_update() {
    let limits = Limits { max_concurrent: 4, ..Limits::default() };
    let counter = Plugin::load(python_runtime(), &py_guest("py-counter"), limits).unwrap();
    let first = counter.process(Exchange::new("one")).await.unwrap();
    assert_eq!(first.header("x-count"), Some(&json!(1)));
    assert_eq!(first.header("x-last"), None);
    let second = counter.process(Exchange::new("two")).await.unwrap();
    assert_eq!(second.header("x-count"), Some(&json!(2)));
    assert_eq!(second.header("x-last"), Some(&json!("one")));
    snapshots(|| insta::assert_json_snapshot!("py-counter", second));
    // 40 calls over up to 4 instances at once: every increment counts.
    let calls = (0..40).map(|i| {
        let counter = counter.clone();
        tokio::spawn(async move { counter.process(Exchange::new(format!("c{i}"))).await })
    });
    let mut counts: Vec<u64> = Vec::new();
    for call in calls {
        let out = call.await.unwrap().unwrap();
        counts.push(out.header("x-count").and_then(|v| v.as_u64()).unwrap());
    }
    counts.sort_unstable();
    assert_eq!(counts, (3..43).collect::<Vec<u64>>(), "each call saw its own count");
}

#[tokio::test]
async fn py_stream_count_reads_a_stream_chunk_by_chunk_and_reports_its_failure() {
    let chunks: Vec<Result<Bytes, StreamError>> = (0..16).map(|_| Ok(Bytes::from(vec![b'p'; 100_000]))).collect();
    let out = plugin("py-stream-count").process(Exchange::new(Body::Stream(StreamBody::from_chunks(chunks)))).await.unwrap();
    assert_eq!(out.input.body, Body::Text("1600000".into()));
    assert_eq!(out.header("x-stream-bytes"), Some(&json!(1_600_000)));
    let chunk_count = out.header("x-stream-chunks").and_then(|v| v.as_u64()).unwrap();
    assert!((16..=64).contains(&chunk_count), "read in chunks of at most 64 KiB: {chunk_count}");
    let text = plugin("py-stream-count").process(Exchange::new("héllo")).await.unwrap();
    assert_eq!(text.header("x-stream-bytes"), Some(&json!(6)));
    snapshots(|| insta::assert_json_snapshot!("py-stream-count", text));

    let failing = vec![Ok(Bytes::from_static(b"abc")), Err(StreamError::Source("disk gone".into()))];
    let error =
        guest_error(plugin("py-stream-count").process(Exchange::new(Body::Stream(StreamBody::from_chunks(failing)))).await);
    assert!(
        matches!(&error, GuestError::Processor(m) if m.starts_with("stream failed: ") && m.contains("disk gone")),
        "{error:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn py_webhook_checks_the_hmac_and_submits_the_event() {
    let seen = Seen::default();
    let source = Source::load(python_runtime(), &py_guest("py-webhook"), Limits::default(), options(Some("/hook"))).unwrap();
    let running = source.start(config(&[("secret", "s3cret")]), recorder(seen.clone(), unchanged)).await.unwrap();
    let payload = r#"{"event":"order.paid","id":7}"#;
    let mut mac = Hmac::<Sha256>::new_from_slice(b"s3cret").unwrap();
    mac.update(payload.as_bytes());
    let signature: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
    let post = |signature: Option<String>, body: &'static str| {
        let mut request = client().post(url(&running, "/hook")).body(body);
        if let Some(signature) = signature {
            request = request.header("x-signature", signature);
        }
        request.send()
    };
    let ok = post(Some(format!("sha256={signature}")), payload).await.unwrap();
    assert_eq!(ok.status(), 202);
    let bad = post(Some("sha256=00".into()), payload).await.unwrap();
    assert_eq!((bad.status().as_u16(), bad.text().await.unwrap()), (401, "bad signature".to_string()));
    let missing = post(None, payload).await.unwrap();
    assert_eq!((missing.status().as_u16(), missing.text().await.unwrap()), (401, "missing x-signature".to_string()));
    let mut mac = Hmac::<Sha256>::new_from_slice(b"s3cret").unwrap();
    mac.update(b"[1]");
    let list_signature: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
    let not_an_event = post(Some(format!("sha256={list_signature}")), "[1]").await.unwrap();
    assert_eq!(not_an_event.status(), 400);
    running.stop().await.unwrap();

    let all = seen.at_least(1).await;
    assert_eq!(all.len(), 1, "only the signed event reached the application");
    let (exchange, _) = &all[0];
    assert_eq!(exchange.header("x-event"), Some(&json!("order.paid")));
    assert_eq!(exchange.input.body, Body::Json(json!({"event": "order.paid", "id": 7})));
    assert_eq!(exchange.property("camel.http.path"), Some(&json!("/hook")));
    assert_eq!(exchange.property("camel.http.method"), Some(&json!("POST")));

    // Without a secret, configure refuses to start.
    let again = Source::load(python_runtime(), &py_guest("py-webhook"), Limits::default(), options(None)).unwrap();
    let Err(refused) = again.start(Vec::new(), recorder(Seen::default(), unchanged)).await else {
        panic!("started without a secret")
    };
    assert!(refused.to_string().contains("py-webhook: config 'secret' is required"), "{refused}");
}

#[tokio::test]
async fn a_python_exception_is_a_typed_processor_error_and_the_instance_stays_usable() {
    // py-json-enrich raises on a list; the same instance then serves the next call.
    let enrich = plugin("py-json-enrich");
    assert!(matches!(guest_error(enrich.process(Exchange::new(json!(3))).await), GuestError::TypeConversion(_)));
    let out = enrich.process(Exchange::new(json!({}))).await.unwrap();
    assert_eq!(out.header("x-fields"), Some(&json!(3)));
    assert_eq!(enrich.idle_instances(), 1);
}
