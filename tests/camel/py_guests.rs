//! The Python guests in rust-camel routes: a YAML route of plugins, a bean
//! step, a policy securing a route and a webhook source, with a real HTTP client.

use std::time::Duration;

use camel_api::security_policy::SecurityPolicyConfig;
use camel_api::{Body, Exchange, Message};
use camel_builder::{RouteBuilder, StepAccumulator};
use camel_wasm::Limits;
use camel_wasm::camel::WasmSecurityPolicy;
use hmac::{Hmac, Mac};
use serde_json::json;

use crate::Harness;
use crate::auth::{authenticated, principal};
use crate::python::{py_guest, python_runtime};

/// A context over the Python guests: direct:, mock:, wasm: and the `py-text` bean as `pytext`.
async fn python_harness() -> Harness {
    crate::harness_with(python_runtime().clone(), "pytext", &py_guest("py-text"), vec![("suffix".into(), "~".into())]).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_yaml_route_of_python_plugins_and_a_python_bean() {
    let mut h = python_harness().await;
    let yaml = r#"
routes:
  - id: py-pipeline
    from: direct:py
    steps:
      - to: "wasm:py-json-enrich.wasm?timeout=10"
      - to: "wasm:py-counter.wasm?timeout=10"
      - to: mock:py-out
  - id: py-words
    from: direct:words
    steps:
      - to: "wasm:py-upper.wasm"
      - bean:
          name: pytext
          method: suffix
      - to: mock:py-words
  - id: py-streams
    from: direct:streams
    steps:
      - to: "wasm:py-stream-count.wasm"
      - to: mock:py-streams
"#;
    h.add_yaml(yaml).await.unwrap();
    h.ctx.start().await.unwrap();

    for order in 1..=2 {
        let mut exchange = Exchange::new_in_out(Message::new(Body::Json(json!({"order": order}))));
        exchange.input.set_header("x-tenant", "acme");
        exchange.set_property("priority", "high");
        h.send("direct:py", exchange).await.unwrap();
    }
    let received = h.received("py-out").await;
    assert_eq!(received.len(), 2);
    let last = &received[1];
    assert_eq!(
        last.input.body,
        Body::Json(json!({"order": 2, "enriched_by": "py-json-enrich", "tenant": "acme", "priority": "high"}))
    );
    assert_eq!(last.input.headers["x-count"], json!(2), "the counter's state lives across exchanges");
    assert_eq!(last.input.headers["x-fields"], json!(4));
    assert_eq!(last.properties["enriched"], json!(true));

    h.send("direct:words", Exchange::new_in_out(Message::new("quiet"))).await.unwrap();
    let words = &h.received("py-words").await[0];
    assert_eq!(words.input.body.as_text(), Some("QUIET~"));
    assert_eq!(words.input.headers["x-lang"], json!("python"));

    h.send("direct:streams", Exchange::new_in_out(Message::new(crate::streams::chunked_stream(300, 1000)))).await.unwrap();
    let counted = &h.received("py-streams").await[0];
    assert_eq!(counted.input.headers["x-stream-bytes"], json!(300_000));
    h.ctx.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_python_policy_secures_a_route() {
    let mut h = python_harness().await;
    let config = vec![("role".to_string(), "ops".to_string())];
    let policy = WasmSecurityPolicy::load(h.wasm.runtime(), &py_guest("py-role-check"), Limits::default(), config).unwrap();
    let route = RouteBuilder::from("direct:py-secure")
        .route_id("py-secure")
        .security_policy(SecurityPolicyConfig::new(policy))
        .to("mock:py-secure-out")
        .build()
        .unwrap();
    h.ctx.add_route_definition(route).await.unwrap();
    h.ctx.start().await.unwrap();
    h.send("direct:py-secure", authenticated("in", principal("alice", &["ops"])).await).await.unwrap();
    let err = h.send("direct:py-secure", authenticated("out", principal("bob", &["dev"])).await).await.unwrap_err();
    assert!(err.to_string().contains("py-role-check: requires role 'ops'"), "{err}");
    let passed = h.received("py-secure-out").await;
    assert_eq!(passed.len(), 1);
    assert_eq!(passed[0].input.body.as_text(), Some("in"));
    h.ctx.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_python_webhook_source_starts_a_route() {
    let mut h = python_harness().await;
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let uri = format!("wasm:py-webhook.wasm?bind=127.0.0.1:{port}&path=/hook&auth=none&config.secret=k3y");
    let route = RouteBuilder::from(&uri).route_id("py-hook").to("mock:py-hook").build().unwrap();
    h.ctx.add_route_definition(route).await.unwrap();
    h.ctx.start().await.unwrap();

    let payload = r#"{"event":"invoice.sent"}"#;
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(b"k3y").unwrap();
    mac.update(payload.as_bytes());
    let signature: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
    let http = reqwest::Client::builder().no_proxy().timeout(Duration::from_secs(20)).build().unwrap();
    let url = format!("http://127.0.0.1:{port}/hook");
    let signed = http.post(&url).header("x-signature", format!("sha256={signature}")).body(payload).send().await.unwrap();
    assert_eq!(signed.status(), 202);
    let forged = http.post(&url).header("x-signature", "sha256=beef").body(payload).send().await.unwrap();
    assert_eq!(forged.status(), 401);

    let mock = h.mock.get_endpoint("py-hook").unwrap();
    mock.await_exchanges(1, Duration::from_secs(5)).await;
    let got = mock.get_received_exchanges().await;
    assert_eq!(got.len(), 1, "the forged request never ran the route");
    assert_eq!(got[0].input.headers["x-event"], json!("invoice.sent"));
    assert_eq!(got[0].properties["camel.http.path"], json!("/hook"));
    h.ctx.stop().await.unwrap();
}
