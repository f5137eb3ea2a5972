//! The `authorization-policy` world through `role-check` and `init-check`.

use camel_wasm::{Decision, Exchange, Limits, PermissionRequest, Policy, Principal, WasmError};
use serde_json::json;

use crate::fixture::{guest, runtime, snapshots};

fn role_check(config: Vec<(String, String)>) -> Policy {
    Policy::load(runtime(), &guest("role-check"), Limits::default(), config).expect("load role-check")
}

fn principal(roles: &[&str]) -> Principal {
    Principal {
        subject: "alice".into(),
        roles: roles.iter().map(|r| r.to_string()).collect(),
        scopes: vec!["orders:read".into()],
        issuer: Some("https://idp.example".into()),
        ..Principal::default()
    }
}

#[tokio::test]
async fn grants_and_denies_on_the_roles_property() {
    let policy = role_check(vec![]);
    let granted = policy.evaluate(&Exchange::new("x").with_property("camel.auth.roles", json!(["admin", "ops"]))).await.unwrap();
    assert_eq!(granted, Decision::Granted);
    let denied = policy.evaluate(&Exchange::new("x").with_property("camel.auth.roles", json!(["guest"]))).await.unwrap();
    assert_eq!(denied, Decision::Denied { reason: "role-check: requires role 'admin'".into() });
    snapshots(|| insta::assert_json_snapshot!("policy-denied", denied));
}

#[tokio::test]
async fn init_config_is_kept_by_the_instance_that_evaluates() {
    let policy = role_check(vec![("role".into(), "ops".into())]);
    let ops = policy.authorize(&Exchange::new("x"), &principal(&["ops"])).await.unwrap();
    assert_eq!(ops, Decision::Granted);
    let admin = policy.authorize(&Exchange::new("x"), &principal(&["admin"])).await.unwrap();
    assert_eq!(admin, Decision::Denied { reason: "role-check: requires role 'ops'".into() });
}

#[tokio::test]
async fn permission_checks_carry_auth_and_permission_properties() {
    let request = PermissionRequest {
        principal: principal(&["admin"]),
        resource: "orders/42".into(),
        action: "delete".into(),
        requested_scopes: vec!["orders:write".into()],
        context: json!({"ip": "10.0.0.1"}),
    };
    let exchange = request.to_exchange();
    let keys: Vec<&str> = exchange.properties.keys().map(String::as_str).collect();
    assert!(keys.iter().all(|k| k.starts_with("camel.auth.") || k.starts_with("camel.permission.")), "{keys:?}");
    snapshots(|| insta::assert_json_snapshot!("permission-exchange", exchange));
    let policy = role_check(vec![]);
    assert_eq!(policy.check_permission(&request).await.unwrap(), Decision::Granted);
    let guest_request = PermissionRequest { principal: principal(&["guest"]), ..request };
    assert!(matches!(policy.check_permission(&guest_request).await.unwrap(), Decision::Denied { .. }));
}

#[tokio::test]
async fn a_failing_init_names_the_plugin_and_comes_back_on_the_call() {
    let policy = Policy::load(runtime(), &guest("init-check"), Limits::default(), vec![("tenant".into(), "t1".into())]).unwrap();
    let err = policy.evaluate(&Exchange::new("x")).await.unwrap_err();
    assert!(
        matches!(&err, WasmError::InitFailed { plugin, message } if plugin == "init-check.wasm" && message.contains("issuer") && !message.contains("tenant")),
        "{err:?}"
    );
    let config = vec![("tenant".into(), "t1".into()), ("issuer".into(), "idp".into())];
    let policy = Policy::load(runtime(), &guest("init-check"), Limits::default(), config).unwrap();
    let with_subject = Exchange::new("x").with_property("camel.auth.subject", "bob");
    assert_eq!(policy.evaluate(&with_subject).await.unwrap(), Decision::Granted);
    assert_eq!(policy.evaluate(&Exchange::new("x")).await.unwrap(), Decision::Denied { reason: "init-check: no subject".into() });
}
