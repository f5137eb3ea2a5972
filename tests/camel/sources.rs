//! Sources in routes: `from: wasm:…?bind=…`, a real HTTP client.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use camel_api::{Body, CamelError, Exchange, HealthStatus, RuntimeCommand};
use camel_builder::{RouteBuilder, StepAccumulator};
use camel_core::CamelContext;
use camel_wasm::camel::LoadState;
use serde_json::json;

use crate::{edge, harness};

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
    h.add_yaml(&yaml).await.unwrap();
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
    /// What the route saw of each exchange: the principal's subject and claims.
    type Seen = Arc<Mutex<Vec<(Option<String>, Option<serde_json::Value>)>>>;
    let seen: Seen = Arc::default();
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
