//! The rust-camel integration in a real camel-core `CamelContext`, with
//! camel-builder and YAML DSL routes, crates.io `direct:` and `mock:`
//! components, and the guests in `guests/dist`.
#![cfg(feature = "rust-camel")]

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::task::Poll;

use camel_api::security_policy::SecurityPolicyConfig;
use camel_api::{Body, CamelError, Exchange, HealthStatus, Message, StreamBody};
use camel_auth::{PermissionDecision, PermissionEvaluator, PermissionRequest, SecurityPolicyRegistry};
use camel_bean::BeanRegistry;
use camel_builder::{RouteBuilder, StepAccumulator};
use camel_component_direct::DirectComponent;
use camel_component_mock::MockComponent;
use camel_core::CamelContext;
use camel_wasm::camel::{CamelWasmError, ExchangeMapping, LoadState, WasmBean, WasmComponent, WasmProducer, WasmSecurityPolicy};
use camel_wasm::{Limits, Plugin, Runtime};
use serde_json::json;
use tower::{Service, ServiceExt};

#[path = "support/auth.rs"]
mod auth;
#[path = "support/edge.rs"]
mod edge;
#[path = "support/redis.rs"]
mod redis_server;
use auth::{authenticated, principal};

fn dist() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("guests/dist")
}

fn runtime() -> Runtime {
    Runtime::builder().base_dir(dist()).build().expect("runtime")
}

/// A CamelContext with direct:, mock:, wasm: and the `text` WASM bean.
struct Harness {
    ctx: CamelContext,
    mock: MockComponent,
    wasm: WasmComponent,
}

async fn harness() -> Harness {
    let runtime = runtime();
    let beans = Arc::new(Mutex::new(BeanRegistry::new()));
    let text = WasmBean::load(&runtime, "text-utils.wasm", Limits::default(), vec![]).await.expect("bean loads");
    beans.lock().unwrap().register("text", text).expect("bean registers");
    let mut ctx = CamelContext::builder().beans(beans).build().await.expect("context");
    ctx.register_component(DirectComponent::new());
    let mock = MockComponent::new();
    ctx.register_component(mock.clone());
    let wasm = WasmComponent::register(&mut ctx, runtime);
    Harness { ctx, mock, wasm }
}

impl Harness {
    async fn send(&self, uri: &str, exchange: Exchange) -> Result<Exchange, CamelWasmError> {
        self.wasm.camel_endpoints().expect("bridged to the context").send(uri, exchange).await
    }

    async fn received(&self, mock: &str) -> Vec<Exchange> {
        self.mock.get_endpoint(mock).expect("mock endpoint exists").get_received_exchanges().await
    }
}

fn text_exchange(body: &str) -> Exchange {
    Exchange::new_in_out(Message::new(body))
}

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
async fn a_wasm_bean_step_runs_a_method() {
    let mut h = harness().await;
    let route = RouteBuilder::from("direct:bean").route_id("bean").bean("text", "reverse").to("mock:bean-out").build().unwrap();
    h.ctx.add_route_definition(route).await.unwrap();
    let route = RouteBuilder::from("direct:bean-fail").route_id("bean-fail").bean("text", "fail").build().unwrap();
    h.ctx.add_route_definition(route).await.unwrap();
    h.ctx.start().await.unwrap();

    let mut exchange = text_exchange("abc");
    exchange.input.set_header("keep", json!([1, "x"]));
    h.send("direct:bean", exchange).await.unwrap();
    let out = &h.received("bean-out").await[0];
    assert_eq!(out.input.body.as_text(), Some("cba"));
    assert_eq!(out.input.headers["keep"], json!([1, "x"]));

    let err = h.send("direct:bean-fail", text_exchange("abc")).await.unwrap_err().to_string();
    assert!(err.contains("text-utils: fail was called"), "{err}");
    h.ctx.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wasm_policy_secures_a_route() {
    let mut h = harness().await;
    let policy = WasmSecurityPolicy::load(h.wasm.runtime(), "role-check.wasm", Limits::default(), vec![]).unwrap();
    let route = RouteBuilder::from("direct:secure")
        .route_id("secure")
        .security_policy(SecurityPolicyConfig::new(policy.clone()))
        .to("mock:secure-out")
        .build()
        .unwrap();
    h.ctx.add_route_definition(route).await.unwrap();
    h.ctx.start().await.unwrap();

    let admin = authenticated("let me in", principal("alice", &["admin", "ops"])).await;
    h.send("direct:secure", admin).await.unwrap();
    let passed = h.received("secure-out").await;
    assert_eq!(passed.len(), 1);
    assert_eq!(passed[0].input.body.as_text(), Some("let me in"));
    assert_eq!(passed[0].properties["camel.auth.subject"], json!("alice"));

    let guest = authenticated("let me in too", principal("bob", &["ops"])).await;
    let err = h.send("direct:secure", guest).await.unwrap_err();
    let message = err.to_string();
    assert!(message.contains("role-check: requires role 'admin'"), "{message}");
    assert!(
        matches!(&err, CamelWasmError::Endpoint { source, .. } if matches!(**source, CamelError::Unauthorized(_))),
        "{err:?}"
    );
    assert_eq!(h.received("secure-out").await.len(), 1, "the denied exchange did not pass");

    let nobody = text_exchange("anonymous");
    let err = h.send("direct:secure", nobody).await.unwrap_err().to_string();
    assert!(err.contains("no authenticated principal"), "{err}");

    // The same guest as a permission evaluator.
    let evaluator = policy.permission_evaluator();
    let request = |roles: &[&str]| PermissionRequest {
        principal: principal("carol", roles),
        resource: "/orders".into(),
        action: "read".into(),
        requested_scopes: vec![],
        context: json!({}),
    };
    assert_eq!(evaluator.evaluate(request(&["admin"])).await.unwrap(), PermissionDecision::Granted);
    assert_eq!(
        evaluator.evaluate(request(&["ops"])).await.unwrap(),
        PermissionDecision::Denied { reason: "role-check: requires role 'admin'".into() }
    );
    h.ctx.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guest_camel_call_reaches_a_direct_route() {
    let mut h = harness().await;
    let shout = RouteBuilder::from("direct:shout")
        .route_id("shout")
        .process(|mut ex: Exchange| async move {
            let text = ex.input.body.as_text().unwrap_or_default().to_uppercase();
            ex.input.body = Body::Text(format!("{text}!"));
            Ok(ex)
        })
        .to("mock:shouted")
        .build()
        .unwrap();
    let binary = RouteBuilder::from("direct:binary")
        .route_id("binary")
        .process(|mut ex: Exchange| async move {
            ex.input.body = Body::Bytes(vec![b'o', b'k', 0xff, 0xfe].into());
            Ok(ex)
        })
        .build()
        .unwrap();
    let forward = RouteBuilder::from("direct:fwd")
        .route_id("fwd")
        .to("wasm:forward.wasm?allow-call=direct,mock,wasm,nowhere")
        .to("mock:fwd-out")
        .build()
        .unwrap();
    for route in [shout, binary, forward] {
        h.ctx.add_route_definition(route).await.unwrap();
    }
    h.ctx.start().await.unwrap();

    let mut exchange = text_exchange("hi there");
    exchange.input.set_header("forward-to", "direct:shout");
    let reply = h.send("direct:fwd", exchange).await.unwrap();
    assert_eq!(reply.input.body.as_text(), Some("HI THERE!"));
    assert_eq!(h.received("fwd-out").await[0].input.body.as_text(), Some("HI THERE!"));
    let shouted = h.received("shouted").await;
    assert_eq!(shouted[0].input.body.as_text(), Some("HI THERE!"), "the called route got the payload as text");

    let mut exchange = text_exchange("tapped");
    exchange.input.set_header("forward-to", "mock:tap");
    let reply = h.send("direct:fwd", exchange).await.unwrap();
    assert_eq!(reply.input.body.as_text(), Some("tapped"), "mock: answers with what it got");
    assert_eq!(h.received("tap").await[0].input.body, Body::Text("tapped".into()));

    let mut exchange = text_exchange("x");
    exchange.input.set_header("forward-to", "direct:binary");
    let err = h.send("direct:fwd", exchange).await.unwrap_err().to_string();
    assert!(err.contains("not valid UTF-8 (first invalid byte at offset 2)"), "{err}");

    let mut exchange = text_exchange("x");
    exchange.input.set_header("forward-to", "wasm:upper.wasm");
    let err = h.send("direct:fwd", exchange).await.unwrap_err().to_string();
    assert!(err.contains("recursive wasm calls not supported"), "{err}");

    let mut exchange = text_exchange("x");
    exchange.input.set_header("forward-to", "nowhere:at-all");
    let err = h.send("direct:fwd", exchange).await.unwrap_err().to_string();
    assert!(err.contains("no endpoint registered for scheme 'nowhere'"), "{err}");
    h.ctx.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
/// Every component of the context is bridged, but a guest reaches only what
/// its endpoint's `allow-call` names: a header cannot turn it into a
/// server-side request forgery.
async fn a_guest_reaches_only_the_schemes_its_endpoint_allows() {
    let mut h = harness().await;
    let open = RouteBuilder::from("direct:ssrf").route_id("ssrf").to("wasm:forward.wasm").build().unwrap();
    let narrow =
        RouteBuilder::from("direct:narrow").route_id("narrow").to("wasm:forward.wasm?allow-call=direct:audit").build().unwrap();
    let audit = RouteBuilder::from("direct:audit").route_id("audit").to("mock:audited").build().unwrap();
    for route in [open, narrow, audit] {
        h.ctx.add_route_definition(route).await.unwrap();
    }
    h.ctx.start().await.unwrap();
    for target in ["http://169.254.169.254/latest/meta-data/", "mock:secrets", "direct:audit"] {
        let mut exchange = text_exchange("x");
        exchange.input.set_header("forward-to", target);
        let err = h.send("direct:ssrf", exchange).await.unwrap_err().to_string();
        assert!(err.contains(&format!("call to '{target}' denied")), "default is deny-all: {err}");
    }
    let mut exchange = text_exchange("x");
    exchange.input.set_header("forward-to", "http://169.254.169.254/latest/meta-data/");
    let err = h.send("direct:narrow", exchange).await.unwrap_err().to_string();
    assert!(err.contains("scheme 'http' is not in this endpoint's allow-call"), "{err}");
    let mut exchange = text_exchange("audited");
    exchange.input.set_header("forward-to", "direct:audit");
    assert_eq!(h.send("direct:narrow", exchange).await.unwrap().input.body.as_text(), Some("audited"));
    assert_eq!(h.received("audited").await.len(), 1, "only the allowed route was reached");
    assert!(h.mock.get_endpoint("secrets").is_none(), "the denied mock endpoint was never created");
    h.ctx.stop().await.unwrap();
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

fn stream_of(len: usize) -> Body {
    let chunk: Result<bytes::Bytes, CamelError> = Ok(bytes::Bytes::from(vec![b'x'; len]));
    let stream: futures::stream::BoxStream<'static, Result<bytes::Bytes, CamelError>> =
        Box::pin(futures::stream::iter(vec![chunk]));
    Body::Stream(StreamBody { stream: Arc::new(tokio::sync::Mutex::new(Some(stream))), metadata: Default::default() })
}

#[tokio::test]
async fn a_stream_body_crosses_as_a_stream_unread() {
    let mapping = ExchangeMapping::default();
    let mut camel = stream_of(8);
    if let Body::Stream(s) = &mut camel {
        s.metadata.size_hint = Some(8);
        s.metadata.content_type = Some("text/plain".into());
    }
    let mut exchange = Exchange::new(Message::new(camel));
    let sent = mapping.to_wasm(&mut exchange, Some("r1")).await.unwrap();
    let stream = sent.input.body.as_stream().expect("still a stream");
    assert_eq!((stream.size_hint, stream.content_type.as_deref()), (Some(8), Some("text/plain")));
    assert_eq!(sent.route_id.as_deref(), Some("r1"));
    assert_eq!(stream.read_all(100).await.unwrap(), bytes::Bytes::from_static(b"xxxxxxxx"));
    // Its chunks moved: the camel body's stream was taken, not copied.
    let Body::Stream(left) = &exchange.input.body else { panic!("the body stays a stream") };
    assert!(left.stream.lock().await.is_none());
    // A policy decides without it: the stream stays on the exchange.
    let mut exchange = Exchange::new(Message::new(stream_of(3)));
    let seen = mapping.to_wasm_for_policy(&mut exchange).await.unwrap();
    assert_eq!(seen.input.body, camel_wasm::Body::Empty);
    let Body::Stream(kept) = &exchange.input.body else { panic!("still a stream") };
    assert!(kept.stream.lock().await.is_some());
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

/// A component whose endpoints hand out queued bodies through a polling consumer,
/// standing in for any pull-model rust-camel component.
#[derive(Clone, Default)]
struct QueueComponent {
    items: Arc<Mutex<std::collections::VecDeque<Body>>>,
}

struct QueueEndpoint {
    uri: String,
    items: Arc<Mutex<std::collections::VecDeque<Body>>>,
}

struct QueuePoller {
    items: Arc<Mutex<std::collections::VecDeque<Body>>>,
}

impl camel_component_api::Component for QueueComponent {
    fn scheme(&self) -> &str {
        "queue"
    }

    fn create_endpoint(
        &self,
        uri: &str,
        _ctx: &dyn camel_component_api::ComponentContext,
    ) -> Result<Box<dyn camel_component_api::Endpoint>, CamelError> {
        Ok(Box::new(QueueEndpoint { uri: uri.to_string(), items: self.items.clone() }))
    }
}

impl camel_component_api::Endpoint for QueueEndpoint {
    fn uri(&self) -> &str {
        &self.uri
    }

    fn create_consumer(
        &self,
        _rt: Arc<dyn camel_component_api::RuntimeObservability>,
    ) -> Result<Box<dyn camel_component_api::Consumer>, CamelError> {
        Err(CamelError::EndpointCreationFailed("queue: poll only".into()))
    }

    fn create_producer(
        &self,
        _rt: Arc<dyn camel_component_api::RuntimeObservability>,
        _ctx: &camel_api::ProducerContext,
    ) -> Result<camel_api::BoxProcessor, CamelError> {
        Err(CamelError::EndpointCreationFailed("queue: poll only".into()))
    }

    fn polling_consumer(&self) -> Option<Box<dyn camel_component_api::PollingConsumer>> {
        Some(Box::new(QueuePoller { items: self.items.clone() }))
    }
}

#[async_trait::async_trait]
impl camel_component_api::PollingConsumer for QueuePoller {
    async fn receive(&mut self, timeout: std::time::Duration) -> Result<Option<Exchange>, CamelError> {
        let item = self.items.lock().unwrap().pop_front();
        match item {
            Some(body) => Ok(Some(Exchange::new(Message::new(body)))),
            None => {
                tokio::time::sleep(timeout).await;
                Ok(None)
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guest_camel_poll_reaches_a_polling_consumer() {
    let mut h = harness().await;
    // Registered after the wasm component: bridged when the next wasm endpoint is created.
    let queue = QueueComponent::default();
    h.ctx.register_component(queue.clone());
    let route = RouteBuilder::from("direct:poll").route_id("poll").to("wasm:forward.wasm?allow-call=queue").build().unwrap();
    h.ctx.add_route_definition(route).await.unwrap();
    h.ctx.start().await.unwrap();

    let poll = |h: &Harness| {
        let mut exchange = text_exchange("");
        exchange.input.set_header("forward-to", "queue:jobs");
        exchange.input.set_header("poll-timeout-ms", 50);
        let endpoints = h.wasm.camel_endpoints().unwrap().clone();
        async move { endpoints.send("direct:poll", exchange).await }
    };
    queue.items.lock().unwrap().push_back(Body::Text("job-0".into()));
    let endpoints = h.wasm.camel_endpoints().unwrap();
    let direct = endpoints.poll_text("queue:jobs", std::time::Duration::from_millis(50)).await.unwrap();
    assert_eq!(direct.as_deref(), Some("job-0"), "Rust code polls the same way");
    queue.items.lock().unwrap().push_back(Body::Text("job-1".into()));
    queue.items.lock().unwrap().push_back(Body::Bytes(vec![b'j', 0xc3].into()));
    assert_eq!(poll(&h).await.unwrap().input.body.as_text(), Some("job-1"));
    let err = poll(&h).await.unwrap_err().to_string();
    assert!(err.contains("not valid UTF-8 (first invalid byte at offset 1)"), "{err}");
    let err = poll(&h).await.unwrap_err().to_string();
    assert!(err.ends_with("plugin 'forward.wasm' returned an error: timeout"), "an empty queue times out: {err}");
    h.ctx.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
/// camel-wasm refuses a guest call made while a guest call runs on the same
/// task; `direct:` dispatches inline, so the route a guest calls may not run a
/// guest itself (it can when reached directly).
async fn a_route_a_guest_calls_cannot_run_a_guest_itself() {
    let mut h = harness().await;
    let inner = RouteBuilder::from("direct:inner-wasm").route_id("inner-wasm").to("wasm:upper.wasm").build().unwrap();
    let outer = RouteBuilder::from("direct:outer").route_id("outer").to("wasm:forward.wasm?allow-call=direct").build().unwrap();
    h.ctx.add_route_definition(inner).await.unwrap();
    h.ctx.add_route_definition(outer).await.unwrap();
    h.ctx.start().await.unwrap();
    assert_eq!(h.send("direct:inner-wasm", text_exchange("direct")).await.unwrap().input.body.as_text(), Some("DIRECT"));
    let mut exchange = text_exchange("nested");
    exchange.input.set_header("forward-to", "direct:inner-wasm");
    let err = h.send("direct:outer", exchange).await.unwrap_err().to_string();
    assert!(err.contains("endpoint 'direct:inner-wasm' failed"), "{err}");
    assert!(err.contains("plugin 'upper.wasm': recursive wasm calls not supported"), "{err}");
    h.ctx.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
/// The guard travels with the exchange a guest sends: a route that hands it
/// to another task still cannot run a guest with it.
async fn a_guest_call_handed_to_another_task_still_cannot_run_a_guest() {
    let mut h = harness().await;
    let inner = RouteBuilder::from("direct:inner-wasm").route_id("inner-wasm").to("wasm:upper.wasm").build().unwrap();
    let endpoints = h.wasm.camel_endpoints().unwrap().clone();
    let handoff = RouteBuilder::from("direct:handoff")
        .route_id("handoff")
        .process(move |ex: Exchange| {
            let endpoints = endpoints.clone();
            async move {
                let spawned = tokio::spawn(async move { endpoints.send("direct:inner-wasm", ex).await });
                spawned.await.unwrap().map_err(|e| CamelError::ProcessorError(e.to_string()))
            }
        })
        .build()
        .unwrap();
    let outer = RouteBuilder::from("direct:outer").route_id("outer").to("wasm:forward.wasm?allow-call=direct").build().unwrap();
    for route in [inner, handoff, outer] {
        h.ctx.add_route_definition(route).await.unwrap();
    }
    h.ctx.start().await.unwrap();
    let reply = h.send("direct:handoff", text_exchange("from rust")).await.unwrap();
    assert_eq!(reply.input.body.as_text(), Some("FROM RUST"), "reached from Rust, the hand-off runs the guest");
    let mut exchange = text_exchange("nested");
    exchange.input.set_header("forward-to", "direct:handoff");
    let err = h.send("direct:outer", exchange).await.unwrap_err().to_string();
    assert!(err.contains("plugin 'upper.wasm': recursive wasm calls not supported"), "{err}");
    h.ctx.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_over_the_uri_max_stream_bytes_fails_the_route() {
    let mut h = harness().await;
    let route =
        RouteBuilder::from("direct:bounded").route_id("bounded").to("wasm:stream-count.wasm?max-stream-bytes=4").build().unwrap();
    h.ctx.add_route_definition(route).await.unwrap();
    h.ctx.start().await.unwrap();
    let small = Exchange::new_in_out(Message::new(stream_of(4)));
    let out = h.send("direct:bounded", small).await.unwrap();
    assert_eq!(out.input.body, Body::Text("4".into()), "streamed through, counted");
    let big = Exchange::new_in_out(Message::new(stream_of(5)));
    let err = h.send("direct:bounded", big).await.unwrap_err().to_string();
    assert!(err.contains("max-stream-bytes (4 bytes)"), "{err}");
    h.ctx.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_flow_through_a_route_both_ways() {
    let mut ctx = CamelContext::builder().build().await.unwrap();
    ctx.register_component(DirectComponent::new());
    let wasm = WasmComponent::builder(runtime()).context(&ctx).stream_limit(1 << 20).build();
    ctx.register_component(wasm.clone());
    // A stream goes into stream-upper, comes back as Body::Stream, and the next step counts it.
    let route = RouteBuilder::from("direct:stream")
        .route_id("stream")
        .to("wasm:stream-upper.wasm")
        .to("wasm:stream-count.wasm")
        .build()
        .unwrap();
    ctx.add_route_definition(route).await.unwrap();
    let passing = RouteBuilder::from("direct:gen").route_id("gen").to("wasm:stream-gen.wasm").build().unwrap();
    ctx.add_route_definition(passing).await.unwrap();
    ctx.start().await.unwrap();

    let endpoints = wasm.camel_endpoints().unwrap();
    let out = endpoints.send("direct:stream", Exchange::new(Message::new(stream_of(300_000)))).await.unwrap();
    assert_eq!(out.input.body, Body::Text("300000".into()), "upper-cased as a stream, counted by the next step");

    let mut gen_exchange = Exchange::new(Message::new(Body::Empty));
    gen_exchange.input.set_header("x-stream-bytes", json!(52));
    let out = endpoints.send("direct:gen", gen_exchange).await.unwrap();
    assert!(matches!(out.input.body, Body::Stream(_)), "the route's result is a stream: {:?}", out.input.body);
    let bytes = out.input.body.into_bytes(1 << 20).await.unwrap();
    assert_eq!(&bytes[..], "abcdefghijklmnopqrstuvwxyz".repeat(2).as_bytes());

    // Over the component's max-stream-bytes: a clear error naming it.
    let err =
        endpoints.send("direct:stream", Exchange::new(Message::new(stream_of((1 << 20) + 1)))).await.unwrap_err().to_string();
    assert!(err.contains("max-stream-bytes (1048576 bytes)"), "{err}");
    ctx.stop().await.unwrap();
}

// ---------------------------------------------------------------------------
// Sources in routes: `from: wasm:…?bind=…`, a real HTTP client.
// ---------------------------------------------------------------------------

use std::time::{Duration, Instant};

use camel_api::RuntimeCommand;

/// A port free a moment ago on 127.0.0.1 (bound, read, released).
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

fn http() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().timeout(Duration::from_secs(20)).build().unwrap()
}

/// Stops or starts one route through the context's runtime.
async fn route_command(ctx: &CamelContext, route_id: &str, start: bool) {
    let (route_id, command_id) = (route_id.to_string(), format!("{route_id}-{}-{:?}", start, Instant::now()));
    let command = if start {
        RuntimeCommand::StartRoute { route_id, command_id, causation_id: None }
    } else {
        RuntimeCommand::StopRoute { route_id, command_id, causation_id: None, stop_budget: None }
    };
    ctx.runtime().execute(command).await.unwrap();
}

/// POSTs `body` until the answer is not a refused connection (a route start is under way), for up to 5 s.
async fn post_when_listening(url: &str, body: &'static str) -> reqwest::Response {
    let started = Instant::now();
    loop {
        match http().post(url).body(body).send().await {
            Ok(response) => return response,
            Err(e) if e.is_connect() && started.elapsed() < Duration::from_secs(5) => {
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
            Err(e) => panic!("POST {url}: {e}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_source_route_answers_each_request_with_the_routes_result() {
    let mut h = harness().await;
    let port = free_port();
    let route =
        RouteBuilder::from(&format!("wasm:reply-source.wasm?bind=127.0.0.1:{port}&path=/greet&request-timeout=10&auth=none"))
            .route_id("greet")
            .process(|mut ex: Exchange| async move {
                let body = ex.input.body.as_text().unwrap_or_default().to_string();
                if body == "fail" {
                    return Err(CamelError::ProcessorError("no greeting for 'fail'".into()));
                }
                assert_eq!(ex.input.headers["x-method"], json!("POST"));
                assert_eq!(ex.input.headers["x-path"], json!("/greet"));
                assert_eq!(ex.properties["camel.http.method"], json!("POST"));
                ex.input.set_header("camel.http.response-code", 201);
                ex.input.set_header("x-greeter", "camel-wasm");
                ex.input.body = Body::Text(format!("hello {body}"));
                Ok(ex)
            })
            .build()
            .unwrap();
    h.ctx.add_route_definition(route).await.unwrap();
    h.ctx.start().await.unwrap();
    let url = format!("http://127.0.0.1:{port}/greet");

    // The route is started once the listener is bound: no retry needed.
    let response = http().post(&url).body("world").send().await.unwrap();
    assert_eq!(response.status(), 201);
    assert_eq!(response.headers()["x-greeter"], "camel-wasm");
    assert_eq!(response.text().await.unwrap(), "hello world");

    // A route error: 500, with the error.
    let failed = http().post(&url).body("fail").send().await.unwrap();
    assert_eq!(failed.status(), 500);
    let text = failed.text().await.unwrap();
    assert!(text.contains("no greeting for 'fail'"), "{text}");
    // Off the served path: 404 at the edge, the route never sees it.
    assert_eq!(http().post(format!("http://127.0.0.1:{port}/other")).body("x").send().await.unwrap().status(), 404);

    // Healthy while running, in the context's report too.
    let check = h.wasm.health_check("reply-source.wasm").expect("the endpoint's check");
    assert_eq!(check.state(), LoadState::Running);
    assert_eq!(check.local_addr(), Some(format!("127.0.0.1:{port}").parse().unwrap()));
    let report = h.ctx.health_check().await;
    let service = report.services.iter().find(|s| s.name == "wasm:reply-source.wasm").expect("registered with the route");
    assert_eq!(service.message, None, "{report:?}");

    // Stopping the context stops the listener: a new connection is refused.
    h.ctx.stop().await.unwrap();
    let err = http().post(&url).body("late").send().await.unwrap_err();
    assert!(err.is_connect(), "{err:?}");
    assert_eq!(check.state(), LoadState::Stopped);
    assert_eq!(check.result().status, HealthStatus::Unhealthy);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopping_and_starting_a_source_route_binds_again() {
    let mut h = harness().await;
    let port = free_port();
    let route = RouteBuilder::from(&format!("wasm:trap-source.wasm?bind=127.0.0.1:{port}&auth=none"))
        .route_id("restartable")
        .to("mock:restartable-out")
        .build()
        .unwrap();
    h.ctx.add_route_definition(route).await.unwrap();
    h.ctx.start().await.unwrap();
    let url = format!("http://127.0.0.1:{port}/in");
    assert_eq!(http().post(&url).body("one").send().await.unwrap().status(), 202);

    route_command(&h.ctx, "restartable", false).await;
    let err = http().post(&url).body("stopped").send().await.unwrap_err();
    assert!(err.is_connect(), "the route stopped, so did its listener: {err:?}");
    // The port is free again: something else could take it.
    drop(std::net::TcpListener::bind(("127.0.0.1", port)).expect("the source released its port"));

    route_command(&h.ctx, "restartable", true).await;
    let response = post_when_listening(&url, "two").await;
    assert_eq!(response.status(), 202);
    let mock = h.mock.get_endpoint("restartable-out").unwrap();
    mock.await_exchanges(2, Duration::from_secs(5)).await;
    let received = mock.get_received_exchanges().await;
    let bodies: Vec<_> = received.iter().map(|e| e.input.body.as_text().unwrap_or_default().to_string()).collect();
    assert_eq!(bodies, ["one", "two"]);
    assert_eq!(received[1].input.headers["x-served"], json!(1), "a new guest instance after the restart");
    h.ctx.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_source_that_cannot_bind_fails_the_route_start_naming_the_address() {
    // Something else holds the port.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    let mut h = harness().await;
    let route = RouteBuilder::from(&format!("wasm:reply-source.wasm?bind={addr}&path=/x&auth=none"))
        .route_id("conflict")
        .to("mock:never")
        .build()
        .unwrap();
    h.ctx.add_route_definition(route).await.unwrap();
    let err = h.ctx.start().await.unwrap_err().to_string();
    assert!(err.contains(&format!("source 'reply-source.wasm': cannot listen on {addr}")), "{err}");
    let check = h.wasm.health_check("reply-source.wasm").unwrap();
    assert!(matches!(check.state(), LoadState::Failed { cause } if cause.contains(&addr.to_string())));
    let _ = h.ctx.stop().await;
    drop(taken);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn source_start_errors_carry_the_sources_message() {
    // No source parameter: the guest's world makes it a source, with its own
    // bind (0.0.0.0:8080), which needs the public-bind opt-in.
    let mut h = harness().await;
    let route = RouteBuilder::from("wasm:reply-source.wasm?auth=none").route_id("public").to("mock:never").build().unwrap();
    h.ctx.add_route_definition(route).await.unwrap();
    let err = h.ctx.start().await.unwrap_err().to_string();
    assert!(err.contains("cannot listen on 0.0.0.0:8080: a non-loopback address needs allow-public-bind=true"), "{err}");
    let _ = h.ctx.stop().await;

    // A plugin cannot start a route; its load error names the world.
    let mut h = harness().await;
    let route = RouteBuilder::from("wasm:upper.wasm?bind=127.0.0.1:1").route_id("plugin-from").to("mock:never").build().unwrap();
    h.ctx.add_route_definition(route).await.unwrap();
    let err = h.ctx.start().await.unwrap_err().to_string();
    assert!(err.contains("plugin 'upper.wasm' does not fit the 'source' world"), "{err}");
    let _ = h.ctx.stop().await;
    let mut h = harness().await;
    let route = RouteBuilder::from("wasm:upper.wasm").route_id("plugin-from").to("mock:never").build().unwrap();
    h.ctx.add_route_definition(route).await.unwrap();
    let err = h.ctx.start().await.unwrap_err().to_string();
    assert!(err.contains("'wasm:upper.wasm' is a plugin"), "{err}");
    let _ = h.ctx.stop().await;

    // A source is no route step.
    let h = harness().await;
    let route = RouteBuilder::from("direct:to-source")
        .route_id("to-source")
        .to("wasm:reply-source.wasm?bind=127.0.0.1:1")
        .build()
        .unwrap();
    let err = h.ctx.add_route_definition(route).await.unwrap_err().to_string();
    assert!(err.contains("is a source: a route can start from it (from:), it cannot be a step (to:)"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_body_reaches_the_route_as_a_stream() {
    let mut h = harness().await;
    let port = free_port();
    let seen: Arc<Mutex<Vec<(bool, usize)>>> = Arc::default();
    let record = seen.clone();
    let route = RouteBuilder::from(&format!("wasm:stream-source.wasm?bind=127.0.0.1:{port}&max-stream-bytes=4194304&auth=none"))
        .route_id("streamed")
        .process(move |mut ex: Exchange| {
            let record = record.clone();
            async move {
                let was_stream = matches!(ex.input.body, Body::Stream(_));
                let body = std::mem::replace(&mut ex.input.body, Body::Empty);
                let bytes = body.into_bytes(4 << 20).await?;
                record.lock().unwrap().push((was_stream, bytes.len()));
                Ok(ex)
            }
        })
        .build()
        .unwrap();
    h.ctx.add_route_definition(route).await.unwrap();
    h.ctx.start().await.unwrap();
    let chunks = futures::stream::iter((0..32).map(|_| Ok::<_, std::io::Error>(bytes::Bytes::from(vec![b'z'; 64 * 1024]))));
    let response =
        http().post(format!("http://127.0.0.1:{port}/upload")).body(reqwest::Body::wrap_stream(chunks)).send().await.unwrap();
    assert_eq!(response.status(), 202);
    let started = Instant::now();
    while seen.lock().unwrap().is_empty() && started.elapsed() < Duration::from_secs(5) {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(*seen.lock().unwrap(), [(true, 2 << 20)], "one 2 MiB stream, read by the route");
    h.ctx.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trapping_source_reports_unhealthy_then_serves_again() {
    let mut h = harness().await;
    let port = free_port();
    let route = RouteBuilder::from(&format!("wasm:trap-source.wasm?bind=127.0.0.1:{port}&auth=none"))
        .route_id("trappy")
        .to("mock:trappy-out")
        .build()
        .unwrap();
    h.ctx.add_route_definition(route).await.unwrap();
    h.ctx.start().await.unwrap();
    let check = h.wasm.health_check("trap-source.wasm").unwrap();
    assert_eq!(check.result().status, HealthStatus::Healthy);

    let boom = http().post(format!("http://127.0.0.1:{port}/boom")).body("x").send().await.unwrap();
    assert_eq!(boom.status(), 503, "the request the guest died on is answered");
    let started = Instant::now();
    while check.result().status == HealthStatus::Healthy && started.elapsed() < Duration::from_secs(5) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let result = check.result();
    assert_eq!(result.status, HealthStatus::Unhealthy);
    assert!(result.message.as_deref().unwrap_or_default().contains("trap-source: boom"), "{result:?}");
    let report = h.ctx.health_check().await;
    assert_eq!(report.status, HealthStatus::Unhealthy, "{report:?}");

    // The source restarts its guest: the route goes on.
    let started = Instant::now();
    let ok = loop {
        let response = http().post(format!("http://127.0.0.1:{port}/ok")).body("y").send().await.unwrap();
        if response.status() == 202 || started.elapsed() > Duration::from_secs(5) {
            break response;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(ok.status(), 202);
    h.mock.get_endpoint("trappy-out").unwrap().await_exchanges(1, Duration::from_secs(5)).await;
    let started = Instant::now();
    while check.source_failure().map(|(restarts, _)| restarts) != Some(1) && started.elapsed() < Duration::from_secs(2) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (restarts, error) = check.source_failure().expect("the failure is kept");
    assert_eq!(restarts, 1);
    assert!(error.contains("trap-source: boom"), "{error}");
    h.ctx.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn yaml_routes_start_from_sources() {
    let mut h = harness().await;
    let (webhook, stream) = (free_port(), free_port());
    let yaml = format!(
        r#"
routes:
  - id: yaml-webhook
    from: "wasm:rc-webhook-source.wasm?bind=127.0.0.1:{webhook}&path=/webhook&auth=none"
    steps:
      - to: mock:y-webhook
  - id: yaml-params
    from: "wasm:reply-source.wasm"
    parameters:
      bind: "127.0.0.1:{stream}"
      path: /reply
      request-timeout: "5"
      auth: none
    steps:
      - set_body:
          simple: "got ${{body}}"
"#
    );
    let threshold = camel_api::stream_cache::DEFAULT_STREAM_CACHE_THRESHOLD;
    let routes = camel_dsl::parse_yaml_with_threshold_and_security(&yaml, threshold, Default::default()).unwrap();
    for route in routes {
        h.ctx.add_route_definition(route).await.unwrap();
    }
    h.ctx.start().await.unwrap();

    let response =
        http().post(format!("http://127.0.0.1:{webhook}/webhook")).header("x-vendor", "acme").body("ping").send().await.unwrap();
    assert_eq!(response.status(), 202);
    let mock = h.mock.get_endpoint("y-webhook").unwrap();
    mock.await_exchanges(1, Duration::from_secs(5)).await;
    let got = &mock.get_received_exchanges().await[0];
    assert_eq!(got.input.body, Body::Bytes(b"ping".to_vec().into()));
    assert_eq!(got.input.headers["x-vendor"], json!("acme"));
    assert_eq!(got.properties["camel.http.method"], json!("POST"));
    assert_eq!(got.properties["camel.http.path"], json!("/webhook"));

    // `parameters:` merge into the URI.
    let reply = http().post(format!("http://127.0.0.1:{stream}/reply")).body("pong").send().await.unwrap();
    assert_eq!(reply.status(), 200);
    assert_eq!(reply.text().await.unwrap(), "got pong");
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_contexts_share_a_routes_state_through_redis() {
    // Two CamelContexts stand for two host processes behind one broker: the
    // same route on each counts into one Redis counter.
    let redis = redis_server::RedisServer::start();
    let uri = format!("wasm:counter.wasm?state={}&state-namespace=orders&timeout=5", redis.url());
    let mut hosts = Vec::new();
    for _ in 0..2 {
        let mut h = harness().await;
        let route = RouteBuilder::from("direct:in").route_id("count").to(uri.as_str()).build().unwrap();
        h.ctx.add_route_definition(route).await.unwrap();
        h.ctx.start().await.unwrap();
        hosts.push(h);
    }
    for (i, h) in hosts.iter().cycle().take(4).enumerate() {
        let reply = h.send("direct:in", text_exchange("tick")).await.unwrap();
        assert_eq!(reply.input.headers["x-count"], json!(i + 1), "host {} sees every count so far", i % 2);
    }
    assert!(redis.command("GET camel-wasm:{counter.wasm#orders}:count").ends_with("4\r\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_source_route_with_no_authentication_does_not_start() {
    let mut h = harness().await;
    let port = free_port();
    let route = RouteBuilder::from(&format!("wasm:reply-source.wasm?bind=127.0.0.1:{port}"))
        .route_id("open")
        .to("mock:never")
        .build()
        .unwrap();
    h.ctx.add_route_definition(route).await.unwrap();
    let err = h.ctx.start().await.unwrap_err().to_string();
    assert!(err.contains("no authentication is configured") && err.contains("auth=none"), "{err}");
    let _ = h.ctx.stop().await;
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err(), "nothing listens");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_source_route_authenticates_at_the_edge_and_the_route_sees_the_principal() {
    use camel_api::security_policy::AuthPrincipal;
    let jwks = edge::serve_jwks().await;
    let mut h = harness().await;
    let port = free_port();
    let seen: Arc<Mutex<Vec<(Option<String>, Option<serde_json::Value>)>>> = Arc::default();
    let record = seen.clone();
    let uri = format!("wasm:reply-source.wasm?bind=127.0.0.1:{port}&path=/secure&{}", edge::jwt_parameters(&jwks));
    let route = RouteBuilder::from(&uri)
        .route_id("secure-source")
        .process(move |ex: Exchange| {
            let record = record.clone();
            async move {
                // The typed carrier camel-auth's policies and dispatch check read, and the camel.auth.* properties.
                let carrier = camel_auth::read_carrier(&ex).map(|p| p.principal().subject.clone());
                record.lock().unwrap().push((carrier, ex.properties.get("camel.auth.subject").cloned()));
                Ok(ex)
            }
        })
        .build()
        .unwrap();
    h.ctx.add_route_definition(route).await.unwrap();
    h.ctx.start().await.unwrap();
    let url = format!("http://127.0.0.1:{port}/secure");
    let refused = http().post(&url).body("no token").send().await.unwrap();
    assert_eq!(refused.status(), 401);
    let forged = http()
        .post(&url)
        .bearer_auth(edge::token_with(edge::forger(), "mallory", &[], json!({})))
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 401);
    let response = http().post(&url).bearer_auth(edge::token("alice", &["admin"])).body("hello").send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), "hello");
    h.ctx.stop().await.unwrap();
    assert_eq!(*seen.lock().unwrap(), [(Some("alice".to_string()), Some(json!("alice")))], "only the authenticated request ran");
}

// ---------------------------------------------------------------------------
// The knob table (issue 23): `unhealthy-after` in a rust-camel route URI.
// ---------------------------------------------------------------------------

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
