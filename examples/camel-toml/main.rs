//! A rust-camel application configured by a Camel.toml whose bean,
//! permission provider, `wasm:` endpoint and routing decisions (the `wasm`
//! language) are WebAssembly guests.
//!
//! ```text
//! cargo run --release --features camel-toml --example camel_toml
//! ```
//!
//! Loads `examples/camel-toml/Camel.toml` with camel-config, registers
//! everything WASM in it with [`register_camel_toml`], compiles the YAML
//! routes with the permission provider, and sends a few exchanges.

use std::error::Error;
use std::path::Path;
use std::sync::{Arc, Mutex};

use camel_api::security_policy::{AccessMode, CredentialSource, Principal, RouteSecurityPlan, TransportId};
use camel_api::{Body, Exchange, Message};
use camel_auth::credential_source::ExtractedToken;
use camel_auth::native_auth::{NativeCredential, NativeCredentialSecret, NativeCredentialStore};
use camel_auth::{ProviderEntry, ProviderRegistry, StaticTokenAuthenticator, install_carrier, kernel_authenticate};
use camel_bean::BeanRegistry;
use camel_component_direct::DirectComponent;
use camel_core::CamelContext;
use camel_dsl::SecurityCompileContext;
use camel_wasm::camel::{load_camel_toml, register_camel_toml};

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/camel-toml");
    // camel-config's loader, also taking rust-camel README's provider shape.
    let config = load_camel_toml(dir.join("Camel.toml"), Some("default"))?;

    // The context reads beans from this registry when a route is added.
    let beans = Arc::new(Mutex::new(BeanRegistry::new()));
    let mut context = CamelContext::builder().beans(beans.clone()).build().await?;
    context.register_component(DirectComponent::new());
    let wasm = register_camel_toml(&config, &dir, &mut context, &beans).await?;
    println!("registered from Camel.toml: {wasm:?}");

    let security = SecurityCompileContext::default()
        .with_evaluator_registry(wasm.permission_evaluators())
        .with_security_policy_registry(wasm.security_policies());
    let patterns: Vec<String> = config.routes.iter().map(|p| dir.join(p).display().to_string()).collect();
    let routes = camel_config::discover_routes_with_threshold_and_security(&patterns, config.stream_caching.threshold, security)?;
    for route in routes {
        context.add_route_definition(route).await?;
    }
    context.start().await?;

    let endpoints = wasm.wasm_component().and_then(|c| c.camel_endpoints()).expect("registered in the context");
    let reply = endpoints.send("direct:greet", Exchange::new_in_out(Message::new("hello camel"))).await?;
    println!("direct:greet  'hello camel'  -> {:?}", reply.input.body.as_text().unwrap_or_default());

    for (who, roles) in [("alice", vec!["admin"]), ("bob", vec!["ops"])] {
        let exchange = authenticated(Exchange::new_in_out(Message::new("order-42")), who, &roles).await?;
        match endpoints.send("direct:orders", exchange).await {
            Ok(reply) => {
                println!("direct:orders {who} {roles:?} -> granted: {:?}", reply.input.body.as_text().unwrap_or_default())
            }
            Err(err) => println!("direct:orders {who} {roles:?} -> denied: {err}"),
        }
    }

    for order in [
        serde_json::json!({"tier": "gold", "amount": 120}),
        serde_json::json!({"tier": "silver", "amount": 4200}),
        serde_json::json!({"amount": 25000}),
        serde_json::json!({"tier": "bronze", "amount": 30}),
    ] {
        let reply = endpoints.send("direct:route-order", Exchange::new_in_out(Message::new(Body::Json(order.clone())))).await?;
        let header = |key: &str| reply.input.headers.get(key).map(|v| v.to_string()).unwrap_or_default();
        println!("direct:route-order {order} -> queue {}, discount {}%", header("queue"), header("discount"));
    }

    context.stop().await?;
    Ok(())
}

/// `exchange` carrying an authenticated principal, as an HTTP consumer that
/// checked a bearer token would leave it (here: a static token, minted by
/// camel-auth's kernel).
async fn authenticated(mut exchange: Exchange, subject: &str, roles: &[&str]) -> Result<Exchange, Box<dyn Error>> {
    let token = format!("token-of-{subject}");
    let principal = Principal {
        subject: subject.into(),
        issuer: "example".into(),
        audience: vec![],
        scopes: vec![],
        roles: roles.iter().map(|r| r.to_string()).collect(),
        claims: serde_json::json!({}),
    };
    let secret = NativeCredentialSecret::Plaintext { value: token.clone().into() };
    let store = NativeCredentialStore::try_new(vec![NativeCredential { secret, principal }])?;
    let providers = ProviderRegistry::new();
    providers.register(
        "static",
        ProviderEntry { authenticator: Arc::new(StaticTokenAuthenticator::new(store)), audience_binding: None },
    );
    let plan = RouteSecurityPlan {
        access_mode: AccessMode::Authenticated,
        provider_ref: Some("static".into()),
        transport: TransportId::Http,
        credential_sources: vec![CredentialSource::AuthorizationHeader],
        audience_binding: None,
    };
    let credentials = ExtractedToken { token, source: CredentialSource::AuthorizationHeader };
    let minted = kernel_authenticate(&plan, &providers, &credentials).await?;
    install_carrier(&mut exchange, &minted);
    Ok(exchange)
}
