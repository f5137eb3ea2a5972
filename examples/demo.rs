//! The main job: push a few exchanges through guests of every world, printing each step.
//!
//! Run with `just demo` (which builds the guests first).

use camel_wasm::{Bean, Decision, Exchange, Latency, Limits, Plugin, Policy, Principal, Runtime, WasmError};
use metrics_exporter_prometheus::PrometheusHandle;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn show(step: &str, exchange: &Exchange) {
    let headers = serde_json::to_string(&exchange.input.headers).unwrap_or_default();
    let body = serde_json::to_string(&exchange.input.body).unwrap_or_default();
    println!("  {step:<22} body={body} headers={headers}");
}

/// Serves the Prometheus text exposition at `/metrics` on a loopback port, for the length of the demo.
async fn serve_metrics(handle: PrometheusHandle) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a loopback port");
    let addr = listener.local_addr().expect("its address");
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let body = handle.render();
            let mut request = [0u8; 1024];
            let _ = stream.read(&mut request).await;
            let head = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: text/plain; version=0.0.4\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(head.as_bytes()).await;
            let _ = stream.write_all(body.as_bytes()).await;
        }
    });
    addr
}

/// One scrape of `addr`'s `/metrics`: the camel-wasm call and error series.
async fn scrape(addr: std::net::SocketAddr) -> String {
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("the metrics endpoint");
    stream.write_all(b"GET /metrics HTTP/1.1\r\nhost: demo\r\nconnection: close\r\n\r\n").await.expect("a request");
    let mut response = String::new();
    stream.read_to_string(&mut response).await.expect("a response");
    response
        .lines()
        .filter(|l| {
            l.starts_with("camel_wasm_calls_total")
                || l.starts_with("camel_wasm_errors_total") && !l.ends_with(" 0")
                // Four of upper's latency buckets (cumulative counts of calls up to `le` seconds).
                || l.starts_with(r#"camel_wasm_call_duration_seconds_bucket{plugin="upper.wasm""#)
                    && ["0.00001", "0.0001", "0.001", "+Inf"].iter().any(|le| l.contains(&format!("le=\"{le}\"")))
        })
        .map(|l| format!("  {l}\n"))
        .collect()
}

#[tokio::main]
async fn main() -> Result<(), WasmError> {
    // Install the recorder before loading: each endpoint registers its series then.
    // Latency as histograms with microsecond buckets: a fleet of hosts can aggregate them.
    let metrics = camel_wasm::prometheus(Latency::default()).and_then(|b| b.install_recorder()).expect("a Prometheus recorder");
    let metrics_addr = serve_metrics(metrics).await;
    let runtime = Runtime::builder().base_dir("guests/dist").build()?;
    runtime
        .endpoints()
        .register_fn("audit", |req: camel_wasm::CallRequest| async move { Ok(format!("audited[{}]", req.payload)) });
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
        let principal =
            Principal { subject: subject.into(), roles: roles.iter().map(|r| r.to_string()).collect(), ..Principal::default() };
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
    println!("\nscrape of http://{metrics_addr}/metrics (calls, non-zero errors, some of upper's latency buckets):");
    print!("{}", scrape(metrics_addr).await);
    Ok(())
}
