//! The main job: push a few exchanges through guests of every world, printing each step.
//!
//! Run with `just demo` (which builds the guests first).

use camel_wasm::{Bean, Decision, Exchange, Limits, Plugin, Policy, Principal, Runtime, WasmError};
use serde_json::json;

fn show(step: &str, exchange: &Exchange) {
    let headers = serde_json::to_string(&exchange.input.headers).unwrap_or_default();
    let body = serde_json::to_string(&exchange.input.body).unwrap_or_default();
    println!("  {step:<22} body={body} headers={headers}");
}

#[tokio::main]
async fn main() -> Result<(), WasmError> {
    let runtime = Runtime::builder().base_dir("guests/dist").build()?;
    runtime.endpoints().register_fn("audit", |req: camel_wasm::CallRequest| async move {
        Ok(format!("audited[{}]", req.payload))
    });
    let upper = Plugin::from_uri(&runtime, "wasm:upper.wasm?timeout=5")?;
    let props = Plugin::load(&runtime, "props.wasm", Limits::default())?;
    let counter = Plugin::load(&runtime, "counter.wasm", Limits::default())?;
    // Guests may call nothing unless allowed: this one may reach `audit:` only.
    let forward = Plugin::from_uri(&runtime, "wasm:forward.wasm?allow-call=audit")?;
    let enrich = Plugin::load(&runtime, "json-enrich.wasm", Limits::default())?;
    let text_utils = Bean::load(&runtime, "text-utils.wasm", Limits::default(), vec![("suffix".into(), " ✓".into())]).await?;
    let gate = Policy::load(&runtime, "role-check.wasm", Limits::default(), vec![("role".into(), "admin".into())])?;
    println!("camel-wasm demo (pooling allocator: {})", runtime.uses_pooling());
    println!("bean text-utils methods: {}", text_utils.methods().join(", "));

    let callers = [("alice", vec!["admin"]), ("bob", vec!["guest"])];
    for (i, (subject, roles)) in callers.into_iter().enumerate() {
        println!("\nexchange {} from {subject} (roles {roles:?})", i + 1);
        let principal = Principal { subject: subject.into(), roles: roles.iter().map(|r| r.to_string()).collect(), ..Principal::default() };
        let mut ex = Exchange::new(format!("order {} for {subject}", i + 1))
            .with_header("forward-to", "audit:orders")
            .with_property("greeting", "hello");
        show("in", &ex);
        match gate.authorize(&ex, &principal).await? {
            Decision::Granted => println!("  {:<22} granted", "policy role-check"),
            Decision::Denied { reason } => {
                println!("  {:<22} DENIED: {reason}", "policy role-check");
                continue;
            }
        }
        ex = upper.process(ex).await?;
        show("plugin upper", &ex);
        ex = props.process(ex).await?;
        println!("  {:<22} properties={}", "plugin props", serde_json::to_string(&ex.properties).unwrap_or_default());
        ex = counter.process(ex).await?;
        show("plugin counter", &ex);
        ex = forward.process(ex).await?;
        show("plugin forward", &ex);
        ex = text_utils.invoke("suffix", ex).await?;
        show("bean text-utils.suffix", &ex);
        let json = enrich.process(Exchange::new(json!({"order": i + 1, "by": subject}))).await?;
        show("plugin json-enrich", &json);
    }
    Ok(())
}
