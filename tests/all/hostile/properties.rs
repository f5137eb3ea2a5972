//! A guest cannot set the host's identity properties (issue 22, item 8).

use camel_wasm::{Exchange, Plugin};
use serde_json::json;

use crate::fixture::{guest, runtime};

#[tokio::test]
async fn camel_auth_properties_keep_the_hosts_values() {
    let plugin = Plugin::from_uri(runtime(), &format!("wasm:{}", guest("auth-forger"))).unwrap();
    // Authenticated upstream as alice: the guest's forgeries are ignored.
    let sent =
        Exchange::new("x").with_property("camel.auth.subject", "alice").with_property("camel.auth.roles", json!(["reader"]));
    let out = plugin.process(sent).await.unwrap();
    assert_eq!(out.header("x-seen-subject"), Some(&json!("alice")), "get-property reads the host's value");
    assert_eq!(out.properties["camel.auth.subject"], json!("alice"));
    assert_eq!(out.properties["camel.auth.roles"], json!(["reader"]));
    assert!(!out.properties.contains_key("camel.auth.principal"), "a returned host-owned property is dropped");
    assert_eq!(out.properties["forger.visited"], json!(true), "other properties still pass");
    // Not authenticated: no identity appears.
    let out = plugin.process(Exchange::new("x")).await.unwrap();
    assert_eq!(out.header("x-seen-subject"), Some(&json!("NONE")));
    assert!(out.properties.keys().all(|k| !k.starts_with("camel.auth.")), "{:?}", out.properties);
}
