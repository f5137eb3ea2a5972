//! Guest `camel` calls and polls into the context: allow-lists, polling consumers, no re-entrant guests.

use std::sync::{Arc, Mutex};

use camel_api::{Body, CamelError, Exchange, Message};
use camel_builder::{RouteBuilder, StepAccumulator};

use crate::{Harness, harness, text_exchange};

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
