//! WASM beans as route steps and WASM authorization policies securing routes.

use camel_api::CamelError;
use camel_api::security_policy::SecurityPolicyConfig;
use camel_auth::{PermissionDecision, PermissionEvaluator, PermissionRequest};
use camel_builder::{RouteBuilder, StepAccumulator};
use camel_wasm::Limits;
use camel_wasm::camel::{CamelWasmError, WasmSecurityPolicy};
use serde_json::json;

use crate::auth::{authenticated, principal};
use crate::{harness, text_exchange};

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
