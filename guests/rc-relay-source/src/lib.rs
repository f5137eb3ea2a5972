//! Source: a request/reply relay in rust-camel's guest style (raw wit-bindgen,
//! no SDK), as an ordinary user would write one from its webhook example.
//!
//! - `configure`: keys `bind` (default `127.0.0.1:8080`) and `path` (default
//!   none); plan: one HTTP listener, `concurrent(2)`. Never fails.
//! - `run`: accepts requests until cancelled; each one is handled on its own
//!   task (`spawn_local`), so two are in flight at once: it reads the body
//!   whole, then submits an IN-OUT exchange whose input headers are the
//!   request's header list copied as it is (duplicates and order kept, so the
//!   host's `camel-wasm-request-id` is in it), body `bytes` (or `empty`),
//!   correlation id EMPTY, properties `camel.http.method` and
//!   `camel.http.path`. A submit error is that request's end; the loop goes on.

use std::future::Future;

use bindings::camel::plugin::source_host::{
    self, CapabilityRequest, ConcurrencyModel, HttpListener, HttpListenerSpec, HttpRequest, SourcePlan,
};
use bindings::camel::plugin::types::{StreamBodyHandle, WasmBody, WasmError, WasmExchange, WasmMessage, WasmPattern};
use wit_bindgen::StreamResult;

mod bindings {
    wit_bindgen::generate!({
        world: "source",
        path: "../../wit",
    });
}

struct RelaySource;

impl bindings::Guest for RelaySource {
    fn configure(config: Vec<(String, String)>) -> Result<SourcePlan, WasmError> {
        let mut bind = String::from("127.0.0.1:8080");
        let mut path = None;
        for (key, value) in config {
            match key.as_str() {
                "bind" => bind = value,
                "path" => path = Some(value),
                _ => {}
            }
        }
        Ok(SourcePlan {
            capabilities: vec![CapabilityRequest::HttpListener(HttpListenerSpec { bind, path })],
            concurrency: ConcurrencyModel::Concurrent(2),
        })
    }

    fn run(listener: &HttpListener) -> impl Future<Output = Result<(), WasmError>> {
        async move {
            loop {
                if source_host::is_cancelled() {
                    return Ok(());
                }
                let Some(req) = source_host::accept_http(listener).await? else {
                    return Ok(());
                };
                wit_bindgen::spawn_local(async move {
                    if let Ok(exchange) = to_exchange(req).await {
                        let _ = source_host::submit_exchange(exchange).await;
                    }
                });
            }
        }
    }
}

async fn to_exchange(req: HttpRequest) -> Result<WasmExchange, WasmError> {
    let body = read_all(req.body).await?;
    Ok(WasmExchange {
        input: WasmMessage { headers: req.headers, body: if body.is_empty() { WasmBody::Empty } else { WasmBody::Bytes(body) } },
        output: None,
        properties: vec![("camel.http.method".to_string(), req.method), ("camel.http.path".to_string(), req.path)],
        pattern: WasmPattern::InOut,
        correlation_id: String::new(),
        route_id: None,
        message_id: None,
    })
}

async fn read_all(handle: StreamBodyHandle) -> Result<Vec<u8>, WasmError> {
    let mut all = Vec::new();
    let mut reader = handle.r#stream;
    loop {
        let (status, chunk) = reader.read(Vec::with_capacity(4096)).await;
        all.extend_from_slice(&chunk);
        match status {
            StreamResult::Complete(_) => {}
            StreamResult::Dropped | StreamResult::Cancelled => break,
        }
    }
    handle.terminal.await?;
    Ok(all)
}

bindings::export!(RelaySource with_types_in bindings);
