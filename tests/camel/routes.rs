//! wasm: endpoints in camel-builder and YAML DSL routes: value types, URIs, mapping, readiness, properties, metrics.

use std::sync::{Arc, Mutex};
use std::task::Poll;

use camel_api::{Body, Exchange, HealthStatus, Message};
use camel_auth::SecurityPolicyRegistry;
use camel_builder::{RouteBuilder, StepAccumulator};
use camel_component_direct::DirectComponent;
use camel_core::CamelContext;
use camel_wasm::camel::{ExchangeMapping, LoadState, WasmComponent, WasmProducer, WasmSecurityPolicy};
use camel_wasm::{Limits, Plugin};
use serde_json::json;
use tower::{Service, ServiceExt};

use crate::auth::{authenticated, principal};
use crate::{harness, runtime, text_exchange};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wasm_endpoint_runs_in_a_route_and_keeps_value_types() {
    let mut h = harness().await;
    let route = RouteBuilder::from("direct:in")
        .route_id("upper")
        .to("wasm:upper.wasm?timeout=5&max-memory=10485760")
        .to("mock:out")
        .build()
        .unwrap();
    h.ctx.add_route_definition(route).await.unwrap();
    h.ctx.start().await.unwrap();

    let mut exchange = text_exchange("hello");
    exchange.input.set_header("n", 42);
    exchange.input.set_header("s", "42");
    exchange.input.set_header("obj", json!({"a": [1, 2.5, null]}));
    exchange.set_property("flag", true);
    let reply = h.send("direct:in", exchange).await.unwrap();
    assert_eq!(reply.input.body.as_text(), Some("HELLO"));

    let received = h.received("out").await;
    assert_eq!(received.len(), 1);
    let out = &received[0];
    assert_eq!(out.input.body.as_text(), Some("HELLO"));
    assert_eq!(out.input.headers["x-processed-by"], json!("upper"));
    assert_eq!(out.input.headers["n"], json!(42), "a number header stays a number");
    assert_eq!(out.input.headers["s"], json!("42"), "a string header stays a string");
    assert_eq!(out.input.headers["obj"], json!({"a": [1, 2.5, null]}));
    assert_eq!(out.properties["flag"], json!(true));

    let report = h.ctx.health_check().await;
    let check = report.services.iter().find(|s| s.name == "wasm:upper.wasm").expect("the endpoint's health check is registered");
    assert_eq!(check.message, None, "{report:?}");
    assert_eq!(report.status, HealthStatus::Healthy, "{report:?}");
    assert_eq!(h.wasm.health_check("upper.wasm").unwrap().state(), LoadState::Loaded);
    h.ctx.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_uris_and_missing_modules_fail_with_the_cause() {
    let h = harness().await;
    let add = |id: &str, uri: &str| RouteBuilder::from(&format!("direct:{id}")).route_id(id).to(uri).build().unwrap();

    let err = h.ctx.add_route_definition(add("zero", "wasm:upper.wasm?timeout=0")).await.unwrap_err().to_string();
    assert!(err.contains("invalid value '0' for parameter 'timeout': must be greater than zero"), "{err}");
    let err = h.ctx.add_route_definition(add("typo", "wasm:upper.wasm?timout=5")).await.unwrap_err().to_string();
    assert!(err.contains("unknown parameter 'timout'"), "{err}");

    let err = h.ctx.add_route_definition(add("missing", "wasm:missing.wasm")).await.unwrap_err().to_string();
    assert!(err.contains("plugin 'missing.wasm' not found"), "{err}");
    let result = h.wasm.health_check("missing.wasm").expect("a check was created").result();
    assert_eq!(result.status, HealthStatus::Unhealthy);
    assert!(result.message.unwrap().contains("plugin 'missing.wasm' not found"));

    let err = h.ctx.add_route_definition(add("world", "wasm:text-utils.wasm")).await.unwrap_err().to_string();
    assert!(err.contains("does not fit the 'plugin' world"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn properties_a_guest_sets_reach_the_camel_exchange() {
    let mut h = harness().await;
    let route = RouteBuilder::from("direct:props").route_id("props").to("wasm:props.wasm").to("mock:props-out").build().unwrap();
    h.ctx.add_route_definition(route).await.unwrap();
    h.ctx.start().await.unwrap();

    let mut exchange = Exchange::new(Message::new(Body::Bytes(vec![0, 159, 146, 150].into())));
    exchange.set_property("greeting", "hello");
    exchange.set_property("count", 7);
    exchange.set_property("json-text", "{\"a\":1}");
    h.send("direct:props", exchange).await.unwrap();
    let out = &h.received("props-out").await[0];
    assert_eq!(out.properties["props.greeting-upper"], json!("HELLO"));
    assert_eq!(out.properties["props.visited"], json!(true));
    assert_eq!(out.properties["props.returned"], json!("yes"));
    assert_eq!(out.properties["count"], json!(7));
    assert_eq!(out.properties["json-text"], json!("{\"a\":1}"), "an unchanged string that looks like JSON stays a string");
    assert_eq!(out.input.body, Body::Bytes(vec![0, 159, 146, 150].into()), "binary body untouched");
    h.ctx.stop().await.unwrap();
}

#[tokio::test]
async fn the_mapping_round_trip_is_lossless() {
    let mapping = ExchangeMapping::default();
    let mut exchange = Exchange::new_in_out(Message::new(Body::Json(json!({"big": 18446744073709551615u64, "f": 0.1}))));
    exchange.input.set_header("n", 42);
    exchange.input.set_header("Case", "a");
    exchange.input.set_header("case", "b");
    exchange.set_property("nested", json!({"k": [true, null]}));
    let before = exchange.clone();
    let sent = mapping.to_wasm(&mut exchange, None).await.unwrap();
    mapping.apply(&mut exchange, sent);
    assert_eq!(exchange.input.body, before.input.body);
    assert_eq!(exchange.input.headers, before.input.headers);
    assert_eq!(exchange.properties, before.properties);
    assert_eq!(exchange.pattern, before.pattern);
    assert_eq!(exchange.correlation_id, before.correlation_id);
}

#[tokio::test]
async fn poll_ready_reports_the_max_concurrent_bound() {
    let runtime = runtime();
    let limits = Limits { max_concurrent: 1, ..Limits::default() };
    let plugin = Plugin::load(&runtime, "upper.wasm", limits).unwrap();
    let mut first = WasmProducer::new(&plugin, ExchangeMapping::default(), None);
    let mut second = first.clone();

    first.ready().await.unwrap();
    assert_eq!(plugin.available_slots(), 0, "the ready producer holds the only slot");
    let waker = futures::task::noop_waker();
    let mut cx = std::task::Context::from_waker(&waker);
    assert!(second.poll_ready(&mut cx).is_pending(), "a second caller waits");

    let out = first.call(text_exchange("slot")).await.unwrap();
    assert_eq!(out.input.body.as_text(), Some("SLOT"));
    assert!(matches!(second.poll_ready(&mut cx), Poll::Ready(Ok(()))), "the slot came back");
    let out = second.call(text_exchange("next")).await.unwrap();
    assert_eq!(out.input.body.as_text(), Some("NEXT"));
}

const YAML_ROUTES: &str = r#"
routes:
  - id: yaml-pipeline
    from: direct:y-in
    steps:
      - to: "wasm:upper.wasm?timeout=5"
      - bean:
          name: text
          method: reverse
      - to: mock:y-out
  - id: yaml-secure
    from: direct:y-secure
    security_policy:
      wasm: role-check
    steps:
      - to: mock:y-secure-out
  - id: yaml-forward
    from: direct:y-fwd
    steps:
      - to: wasm:forward.wasm?allow-call=direct:y-shout
      - to: mock:y-fwd-out
  - id: yaml-shout
    from: direct:y-shout
    steps:
      - set_body:
          simple: "echo: ${body}"
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routes_from_the_yaml_dsl() {
    let mut h = harness().await;
    let policies = SecurityPolicyRegistry::new();
    let policy = WasmSecurityPolicy::load(h.wasm.runtime(), "role-check.wasm", Limits::default(), vec![]).unwrap();
    policies.register("role-check", Arc::new(policy));
    let security = camel_dsl::SecurityCompileContext { registry: Some(Arc::new(policies)), ..Default::default() };
    let threshold = camel_api::stream_cache::DEFAULT_STREAM_CACHE_THRESHOLD;
    let routes = camel_dsl::parse_yaml_with_threshold_and_security(YAML_ROUTES, threshold, security).unwrap();
    assert_eq!(routes.len(), 4);
    for route in routes {
        h.ctx.add_route_definition(route).await.unwrap();
    }
    h.ctx.start().await.unwrap();

    h.send("direct:y-in", text_exchange("abc")).await.unwrap();
    assert_eq!(h.received("y-out").await[0].input.body.as_text(), Some("CBA"));

    h.send("direct:y-secure", authenticated("ok", principal("alice", &["admin"])).await).await.unwrap();
    let err = h.send("direct:y-secure", authenticated("no", principal("bob", &[])).await).await.unwrap_err().to_string();
    assert!(err.contains("role-check: requires role 'admin'"), "{err}");
    assert_eq!(h.received("y-secure-out").await.len(), 1);

    let mut exchange = text_exchange("quiet");
    exchange.input.set_header("forward-to", "direct:y-shout");
    h.send("direct:y-fwd", exchange).await.unwrap();
    assert_eq!(h.received("y-fwd-out").await[0].input.body.as_text(), Some("echo: quiet"));
    h.ctx.stop().await.unwrap();
}

/// A rust-camel metrics collector that records what it is told.
#[derive(Default)]
struct RecordingCollector(Mutex<Vec<String>>);

impl camel_api::MetricsCollector for RecordingCollector {
    fn record_exchange_duration(&self, _route_id: &str, _duration: std::time::Duration) {}
    fn increment_errors(&self, route_id: &str, error_type: &str) {
        self.0.lock().unwrap().push(format!("error {route_id} {error_type}"));
    }
    fn increment_exchanges(&self, _route_id: &str) {}
    fn set_queue_depth(&self, _queue: &str, _depth: usize) {}
    fn record_circuit_breaker_change(&self, _route_id: &str, _from: &str, _to: &str) {}
    fn record_histogram(&self, name: &str, _value: f64, labels: &[(&str, &str)]) {
        let labels: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
        self.0.lock().unwrap().push(format!("{name} {}", labels.join(",")));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wasm_calls_reach_the_contexts_metrics_collector() {
    let collector = Arc::new(RecordingCollector::default());
    let mut ctx = CamelContext::builder().metrics(collector.clone()).build().await.unwrap();
    ctx.register_component(DirectComponent::new());
    let wasm = WasmComponent::builder(runtime()).context(&ctx).build();
    ctx.register_component(wasm.clone());
    let route = RouteBuilder::from("direct:m").route_id("m").to("wasm:chaos.wasm").build().unwrap();
    ctx.add_route_definition(route).await.unwrap();
    ctx.start().await.unwrap();
    let endpoints = wasm.camel_endpoints().unwrap();
    endpoints.send("direct:m", Exchange::new(Message::new(Body::Text("ok".into())))).await.unwrap();
    assert!(endpoints.send("direct:m", Exchange::new(Message::new(Body::Text("panic".into())))).await.is_err());
    ctx.stop().await.unwrap();
    let seen = collector.0.lock().unwrap().clone();
    let durations = seen.iter().filter(|l| l.as_str() == "camel_wasm_call_duration_seconds plugin=chaos.wasm,route=m").count();
    assert_eq!(durations, 2, "{seen:?}");
    assert!(seen.contains(&"error m wasm_panic".to_string()), "{seen:?}");
}

/// The knob table (issue 23): `unhealthy-after` in a rust-camel route URI.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unhealthy_after_in_a_route_uri_sets_when_the_endpoint_reports_unhealthy() {
    let mut h = harness().await;
    let route = RouteBuilder::from("direct:sick").route_id("sick").to("wasm:panicker.wasm?unhealthy-after=2").build().unwrap();
    h.ctx.add_route_definition(route).await.unwrap();
    h.ctx.start().await.unwrap();
    let check = h.wasm.health_check("panicker.wasm").expect("the endpoint's check");
    assert!(h.send("direct:sick", text_exchange("a")).await.is_err(), "the guest panics");
    assert_eq!(check.result().status, HealthStatus::Healthy, "one failure is under unhealthy-after=2");
    assert!(h.send("direct:sick", text_exchange("b")).await.is_err());
    let result = check.result();
    assert_eq!(result.status, HealthStatus::Unhealthy, "two failures in a row reach unhealthy-after=2");
    assert!(result.message.unwrap_or_default().starts_with("2 calls in a row failed"));
    h.ctx.stop().await.unwrap();
}
