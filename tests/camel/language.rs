//! The `wasm` language in a real CamelContext: `filter`, `choice`, `set_header`,
//! `set_body` and `split` with predicates and expressions of the `tiers` guest,
//! from the YAML DSL and from the Rust DSL; a choice of 8 clauses in one guest
//! call; errors when a route is added and when an entry fails.

use camel_api::splitter::AggregationStrategy;
use camel_api::{Body, Exchange, Message};
use camel_builder::{RouteBuilder, StepAccumulator};
use camel_wasm::camel::{Steps, WasmLanguage, WasmSteps};
use metrics_util::debugging::{DebugValue, DebuggingRecorder};
use serde_json::{Value, json};

use crate::{Harness, harness, runtime};

/// The harness with the `wasm` language registered on its runtime.
async fn with_language() -> Harness {
    let mut h = harness().await;
    WasmLanguage::register(&mut h.ctx, h.wasm.runtime().clone()).expect("`wasm` is free");
    h
}

fn order(body: Value) -> Exchange {
    Exchange::new_in_out(Message::new(Body::Json(body)))
}

const YAML: &str = r#"
routes:
  - id: orders
    from: direct:orders
    steps:
      - set_header:
          key: x-tier
          language: wasm
          source: "tiers.wasm#tier"
      - choice:
          when:
            - language: wasm
              source: "tiers.wasm#is-platinum"
              steps:
                - to: mock:platinum
            - language: wasm
              source: "tiers.wasm#is-gold"
              steps:
                - to: mock:gold
            - language: wasm
              source: "tiers.wasm#is-silver"
              steps:
                - to: mock:silver
          otherwise:
            - to: mock:standard
  - id: fraud
    from: direct:fraud
    steps:
      - filter:
          language: wasm
          source: "tiers.wasm#is-suspicious?timeout=2"
          steps:
            - to: mock:review
      - to: mock:screened
  - id: summary
    from: direct:summary
    steps:
      - set_body:
          language: wasm
          source: "tiers.wasm#summary"
      - to: mock:summary
  - id: items
    from: direct:items
    steps:
      - split:
          expression:
            language: wasm
            source: "tiers.wasm#items"
          steps:
            - to: mock:item
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn yaml_routes_branch_filter_set_and_split_on_wasm_entries() {
    let mut h = with_language().await;
    h.add_yaml(YAML).await.unwrap();
    h.ctx.start().await.unwrap();

    for tier in ["gold", "platinum", "silver", "bronze", "gold"] {
        h.send("direct:orders", order(json!({"tier": tier, "amount": 10}))).await.unwrap();
    }
    let tiers =
        async |mock: &str| -> Vec<Value> { h.received(mock).await.iter().map(|e| e.input.headers["x-tier"].clone()).collect() };
    assert_eq!(tiers("gold").await, [json!("gold"), json!("gold")]);
    assert_eq!(tiers("platinum").await, [json!("platinum")]);
    assert_eq!(tiers("silver").await, [json!("silver")]);
    assert_eq!(tiers("standard").await, [json!("bronze")], "no when matched: otherwise");

    h.send("direct:fraud", order(json!({"amount": 50000}))).await.unwrap();
    h.send("direct:fraud", order(json!({"amount": 50000, "tier": "gold"}))).await.unwrap();
    h.send("direct:fraud", order(json!({"amount": 5}))).await.unwrap();
    let review = h.received("review").await;
    assert_eq!(review.len(), 1, "only the order without a tier and with a large amount");
    assert_eq!(review[0].input.body, Body::Json(json!({"amount": 50000})));
    assert_eq!(h.received("screened").await.len(), 3, "the filter does not stop the route");

    h.send("direct:summary", order(json!({"tier": "platinum", "amount": 1500}))).await.unwrap();
    assert_eq!(h.received("summary").await[0].input.body, Body::Json(json!({"tier": "platinum", "discount": 20, "big": true})));

    h.send("direct:items", order(json!({"items": [{"sku": "a"}, {"sku": "b"}, {"sku": "c"}]}))).await.unwrap();
    let items: Vec<Body> = h.received("item").await.into_iter().map(|e| e.input.body).collect();
    assert_eq!(items, [Body::Json(json!({"sku": "a"})), Body::Json(json!({"sku": "b"})), Body::Json(json!({"sku": "c"}))]);
    h.ctx.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_dsl_routes_use_the_same_wasm_steps() {
    let mut h = with_language().await;
    let route = RouteBuilder::from("direct:rs-orders")
        .route_id("rs-orders")
        .wasm_set_header("x-discount", "tiers.wasm#discount")
        .wasm_filter("tiers.wasm#is-eu", Steps::new().to("mock:rs-eu"))
        .wasm_choice(
            vec![
                ("tiers.wasm#is-big", Steps::new().to("mock:rs-big")),
                ("tiers.wasm#is-express", Steps::new().to("mock:rs-fast")),
            ],
            Some(Steps::new().to("mock:rs-small")),
        )
        .wasm_split("tiers.wasm#items", AggregationStrategy::Original, Steps::new().to("mock:rs-item"))
        .wasm_set_body("tiers.wasm#summary")
        .to("mock:rs-done")
        .build()
        .unwrap();
    h.ctx.add_route_definition(route).await.unwrap();
    h.ctx.start().await.unwrap();

    h.send("direct:rs-orders", order(json!({"tier": "gold", "amount": 5000, "country": "FR", "items": [1, 2]}))).await.unwrap();
    let mut express = order(json!({"tier": "silver", "amount": 10, "country": "US"}));
    express.input.set_header("shipping", "express");
    h.send("direct:rs-orders", express).await.unwrap();
    h.send("direct:rs-orders", order(json!({"amount": 10}))).await.unwrap();

    let eu = h.received("rs-eu").await;
    assert_eq!(eu.len(), 1);
    assert_eq!(eu[0].input.headers["x-discount"], json!(10));
    assert_eq!(h.received("rs-big").await.len(), 1);
    assert_eq!(h.received("rs-fast").await.len(), 1);
    assert_eq!(h.received("rs-small").await.len(), 1);
    let items: Vec<Body> = h.received("rs-item").await.into_iter().map(|e| e.input.body).collect();
    assert_eq!(items, [Body::Json(json!(1)), Body::Json(json!(2))]);
    let done: Vec<Body> = h.received("rs-done").await.into_iter().map(|e| e.input.body).collect();
    assert_eq!(done[0], Body::Json(json!({"tier": "gold", "discount": 10, "big": true})));
    assert_eq!(done[2], Body::Json(json!({"tier": "none", "discount": 0, "big": false})));
    h.ctx.stop().await.unwrap();
}

/// A YAML `choice` of 8 `wasm` clauses on one endpoint: one `first-match` call per exchange.
const EIGHT: [&str; 8] = ["is-suspicious", "is-platinum", "is-gold", "is-silver", "is-bronze", "is-express", "is-eu", "is-big"];

#[test]
fn a_choice_of_eight_wasm_clauses_is_one_guest_call() {
    let whens: String = EIGHT
        .iter()
        .map(|name| format!("            - language: wasm\n              source: \"tiers.wasm#{name}\"\n              steps:\n                - to: mock:{name}\n"))
        .collect();
    let yaml = format!(
        "routes:\n  - id: eight\n    from: direct:eight\n    steps:\n      - choice:\n          when:\n{whens}          otherwise:\n            - to: mock:none\n"
    );
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    // The language's per-entry series are made on the first call, on this thread: the local recorder sees them.
    metrics::with_local_recorder(&recorder, || {
        rt.block_on(async {
            let mut h = with_language().await;
            h.add_yaml(&yaml).await.unwrap();
            h.ctx.start().await.unwrap();
            for body in [json!({"tier": "gold"}), json!({"country": "IT"}), json!({"amount": 1}), json!({"amount": 99999})] {
                h.send("direct:eight", order(body)).await.unwrap();
            }
            assert_eq!(h.received("is-gold").await.len(), 1);
            assert_eq!(h.received("is-eu").await.len(), 1);
            assert_eq!(h.received("none").await.len(), 1);
            assert_eq!(h.received("is-suspicious").await.len(), 1);
            h.ctx.stop().await.unwrap();
        })
    });
    let calls: Vec<(String, u64)> = snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .filter(|(key, ..)| key.key().name() == "camel_wasm_calls_total")
        .filter_map(|(key, _, _, value)| match value {
            DebugValue::Counter(n) if n > 0 => {
                key.key().labels().find(|l| l.key() == "method").map(|l| (l.value().to_string(), n))
            }
            _ => None,
        })
        .collect();
    assert_eq!(calls, [(EIGHT.join("|"), 4)], "four exchanges, four guest calls, each evaluating the group");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_scripts_fail_when_the_route_is_added() {
    let mut h = with_language().await;
    let route = |source: &str| {
        format!(
            "routes:\n  - id: bad\n    from: direct:bad\n    steps:\n      - filter:\n          language: wasm\n          source: \"{source}\"\n          steps:\n            - to: mock:bad\n"
        )
    };
    let unknown = h.add_yaml(&route("tiers.wasm#is-golden")).await.unwrap_err().to_string();
    assert!(unknown.contains("plugin 'tiers.wasm' has no predicate 'is-golden' (entries: is-platinum (predicate)"), "{unknown}");
    let kind = h.add_yaml(&route("tiers.wasm#tier")).await.unwrap_err().to_string();
    assert!(kind.contains("has no predicate 'tier'"), "an expression is not a predicate: {kind}");
    let missing = h.add_yaml(&route("nowhere.wasm#x")).await.unwrap_err().to_string();
    assert!(missing.contains("plugin 'nowhere.wasm' not found"), "{missing}");
    let syntax = h.add_yaml(&route("tiers.wasm")).await.unwrap_err().to_string();
    assert!(syntax.contains("expected PATH#ENTRY"), "{syntax}");
    let knob = h.add_yaml(&route("tiers.wasm#is-gold?timeout=soon")).await.unwrap_err().to_string();
    assert!(knob.contains("timeout"), "{knob}");
    let not_language = h.add_yaml(&route("upper.wasm#x")).await.unwrap_err().to_string();
    assert!(not_language.contains("does not fit the 'language' world"), "{not_language}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_entry_fails_the_exchange_with_a_typed_error() {
    let mut h = with_language().await;
    let yaml = r#"
routes:
  - id: chaos-filter
    from: direct:chaos
    steps:
      - filter:
          language: wasm
          source: "language-chaos.wasm#trap"
          steps:
            - to: mock:chaos
  - id: chaos-value
    from: direct:chaos-value
    steps:
      - set_header:
          key: x
          language: wasm
          source: "language-chaos.wasm#not-json"
  - id: chaos-choice
    from: direct:chaos-choice
    steps:
      - choice:
          when:
            - language: wasm
              source: "language-chaos.wasm#never"
              steps:
                - to: mock:never
            - language: wasm
              source: "language-chaos.wasm#fail"
              steps:
                - to: mock:fail
"#;
    h.add_yaml(yaml).await.unwrap();
    h.ctx.start().await.unwrap();
    let trapped = h.send("direct:chaos", order(json!({}))).await.unwrap_err();
    let text = format!("{trapped} {trapped:?}");
    assert!(text.contains("wasm") && text.contains("language-chaos.wasm") && text.contains("'trap'"), "{text}");
    let not_json = h.send("direct:chaos-value", order(json!({}))).await.unwrap_err();
    let text = format!("{not_json:?}");
    assert!(text.contains("not JSON") && text.contains("Conversion"), "{text}");
    let clause = h.send("direct:chaos-choice", order(json!({}))).await.unwrap_err();
    let text = format!("{clause:?}");
    assert!(text.contains("clause 1 ('fail')") && text.contains("no decision today"), "{text}");
    assert!(h.received("chaos").await.is_empty() && h.received("fail").await.is_empty());
    h.ctx.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scripts_on_one_endpoint_share_it_and_knobs_make_another() {
    let language = WasmLanguage::new(runtime());
    use camel_language_api::Language as _;
    language.create_predicate("tiers.wasm#is-gold").unwrap();
    language.create_expression("tiers.wasm#tier").unwrap();
    language.create_predicate("tiers.wasm#is-big?timeout=1&config.big-from=10").unwrap();
    let mut endpoints: Vec<String> = language.endpoints().into_iter().map(|(key, _)| key).collect();
    endpoints.sort();
    assert_eq!(endpoints, ["tiers.wasm", "tiers.wasm?timeout=1&config.big-from=10"]);
    let big = language.create_predicate("tiers.wasm#is-big?timeout=1&config.big-from=10").unwrap();
    let small = camel_api::Exchange::new(Message::new(Body::Json(json!({"amount": 20}))));
    assert!(big.matches(&small).await.unwrap(), "the init config of the script's query: big from 10");
    assert!(!language.create_predicate("tiers.wasm#is-big").unwrap().matches(&small).await.unwrap());
}
