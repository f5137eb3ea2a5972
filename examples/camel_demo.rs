//! camel-wasm inside a real rust-camel `CamelContext`.
//!
//! One route: a WASM policy gate (role-check), a `wasm:` plugin (upper), a
//! WASM bean step (text-utils reverse), and a guest (forward) whose
//! `camel-call` reaches another route over `direct:`. Every step prints what
//! it sees. Run: `cargo run --release --features rust-camel --example camel_demo`.

use std::error::Error;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use camel_api::security_policy::{AccessMode, CredentialSource, Principal, RouteSecurityPlan, SecurityPolicyConfig, TransportId};
use camel_api::{Body, Exchange, Message};
use camel_auth::credential_source::ExtractedToken;
use camel_auth::native_auth::{NativeCredential, NativeCredentialSecret, NativeCredentialStore};
use camel_auth::{ProviderEntry, ProviderRegistry, StaticTokenAuthenticator, install_carrier, kernel_authenticate};
use camel_bean::BeanRegistry;
use camel_builder::{RouteBuilder, StepAccumulator};
use camel_component_direct::DirectComponent;
use camel_core::CamelContext;
use camel_wasm::camel::{WasmBean, WasmComponent, WasmSecurityPolicy};
use camel_wasm::{Limits, Runtime};

/// A step that prints the body it sees and passes the exchange on.
fn show(
    step: &'static str,
) -> impl Fn(Exchange) -> std::future::Ready<Result<Exchange, camel_api::CamelError>> + Send + Sync + 'static {
    move |exchange: Exchange| {
        let body = match &exchange.input.body {
            Body::Text(text) => format!("{text:?}"),
            other => format!("{other:?}"),
        };
        println!("  {step:<28} body = {body}");
        std::future::ready(Ok(exchange))
    }
}

/// An exchange carrying `subject` with `roles`, minted by camel-auth's kernel
/// the way an authenticating transport (HTTP, gRPC, ...) would.
async fn authenticated(body: &str, subject: &str, roles: &[&str]) -> Result<Exchange, Box<dyn Error>> {
    let principal = Principal {
        subject: subject.into(),
        issuer: "demo".into(),
        audience: vec![],
        scopes: vec![],
        roles: roles.iter().map(|r| r.to_string()).collect(),
        claims: serde_json::json!({}),
    };
    let token = format!("token-of-{subject}");
    let secret = NativeCredentialSecret::Plaintext { value: token.clone().into() };
    let store = NativeCredentialStore::try_new(vec![NativeCredential { secret, principal }])?;
    let providers = ProviderRegistry::new();
    providers.register(
        "demo",
        ProviderEntry { authenticator: Arc::new(StaticTokenAuthenticator::new(store)), audience_binding: None },
    );
    let plan = RouteSecurityPlan {
        access_mode: AccessMode::Authenticated,
        provider_ref: Some("demo".into()),
        transport: TransportId::Http,
        credential_sources: vec![CredentialSource::AuthorizationHeader],
        audience_binding: None,
    };
    let credentials = ExtractedToken { token, source: CredentialSource::AuthorizationHeader };
    let minted = kernel_authenticate(&plan, &providers, &credentials).await?;
    let mut exchange = Exchange::new_in_out(Message::new(body));
    install_carrier(&mut exchange, &minted);
    Ok(exchange)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let dist = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("guests/dist");
    let runtime = Runtime::builder().base_dir(&dist).build()?;

    // A WASM bean, registered like any rust-camel bean.
    let beans = Arc::new(Mutex::new(BeanRegistry::new()));
    let text = WasmBean::load(&runtime, "text-utils.wasm", Limits::default(), vec![]).await?;
    println!("bean 'text' ({}) methods: {:?}", text.bean().name(), text.bean().methods());
    beans.lock().map_err(|e| e.to_string())?.register("text", text)?;

    let mut context = CamelContext::builder().beans(beans).build().await?;
    context.register_component(DirectComponent::new());
    // The wasm component; guests' camel-call reaches this context's components.
    let wasm = WasmComponent::register(&mut context, runtime.clone());
    let policy = WasmSecurityPolicy::load(&runtime, "role-check.wasm", Limits::default(), vec![("role".into(), "admin".into())])?;

    let pipeline = RouteBuilder::from("direct:orders")
        .route_id("orders")
        .security_policy(SecurityPolicyConfig::new(policy))
        .process(show("1. passed role-check"))
        .to("wasm:upper.wasm?timeout=5&max-memory=10485760")
        .process(show("2. after wasm:upper.wasm"))
        .bean("text", "reverse")
        .process(show("3. after bean text.reverse"))
        .set_header("forward-to", "direct:audit")
        .to("wasm:forward.wasm?allow-call=direct:audit")
        .process(show("5. after wasm:forward.wasm"))
        .build()?;
    let audit = RouteBuilder::from("direct:audit")
        .route_id("audit")
        .process(|mut exchange: Exchange| async move {
            let text = exchange.input.body.as_text().unwrap_or_default().to_string();
            println!("  4. direct:audit (camel-call) body = {text:?}");
            exchange.input.body = Body::Text(format!("audited({text})"));
            Ok(exchange)
        })
        .build()?;
    context.add_route_definition(audit).await?;
    context.add_route_definition(pipeline).await?;
    context.start().await?;

    let endpoints = wasm.camel_endpoints().ok_or("the component is bridged to the context")?;
    println!("\nalice (roles: admin) sends \"hello\":");
    let reply = endpoints.send("direct:orders", authenticated("hello", "alice", &["admin"]).await?).await?;
    println!("  reply: {:?}", reply.input.body.as_text().unwrap_or_default());

    println!("\nbob (roles: ops) sends \"hello\":");
    match endpoints.send("direct:orders", authenticated("hello", "bob", &["ops"]).await?).await {
        Ok(reply) => println!("  unexpectedly passed: {:?}", reply.input.body),
        Err(err) => println!("  stopped: {err}"),
    }

    let report = context.health_check().await;
    println!("\nhealth: {:?}", report.status);
    for service in &report.services {
        println!("  {} {:?} {}", service.name, service.status, service.message.as_deref().unwrap_or(""));
    }
    context.stop().await?;
    Ok(())
}
