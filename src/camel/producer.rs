//! The producer of a `wasm:` endpoint: a tower `Service<camel_api::Exchange>`.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use camel_api::{CamelError, Exchange as CamelExchange, MetricsCollector};
use tower::Service;

use super::calls::GUEST_CALL_PROPERTY;
use super::error::wasm_to_camel;
use super::mapping::ExchangeMapping;
use super::observe::Collector;
use crate::{Plugin, PluginService, WasmError};

/// Runs camel exchanges through a plugin guest.
///
/// `poll_ready` is pending while the plugin's `max-concurrent` calls are in
/// flight and ready once a call slot is free; `call` uses that slot. A
/// `call` made without `poll_ready` waits for a slot itself. Clones share
/// the plugin (its instances and bound) but not a reserved slot.
#[derive(Clone)]
pub struct WasmProducer {
    plugin: std::sync::Arc<str>,
    service: PluginService,
    mapping: ExchangeMapping,
    route_id: Option<String>,
    /// The context's collector: each call's duration and errors reach camel-core's metrics.
    collector: Option<Collector>,
}

impl std::fmt::Debug for WasmProducer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WasmProducer").field("route_id", &self.route_id).finish_non_exhaustive()
    }
}

impl WasmProducer {
    /// A producer on `plugin`, handing the guest `route_id` when known.
    pub fn new(plugin: &Plugin, mapping: ExchangeMapping, route_id: Option<String>) -> Self {
        Self { plugin: plugin.name().into(), service: plugin.service(), mapping, route_id, collector: None }
    }

    /// Reports each call to `collector` (the `RuntimeObservability` rust-camel hands
    /// producers): `camel_wasm_call_duration_seconds{plugin,route}`, and on a failure
    /// `increment_errors(route, "wasm_<kind>")`.
    pub fn with_collector(mut self, collector: std::sync::Arc<dyn MetricsCollector>) -> Self {
        self.collector = Some(Collector(collector));
        self
    }
}

impl Service<CamelExchange> for WasmProducer {
    type Response = CamelExchange;
    type Error = CamelError;
    type Future = Pin<Box<dyn Future<Output = Result<CamelExchange, CamelError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), CamelError>> {
        self.service.poll_ready(cx).map_err(wasm_to_camel)
    }

    fn call(&mut self, mut exchange: CamelExchange) -> Self::Future {
        if exchange.property(GUEST_CALL_PROPERTY).is_some_and(|v| v != &serde_json::Value::Bool(false)) {
            let err = WasmError::Recursive { plugin: self.plugin.to_string() };
            return Box::pin(std::future::ready(Err(wasm_to_camel(err))));
        }
        // The service polled ready holds the call slot: take it, leave a fresh clone.
        let fresh = self.service.clone();
        let mut ready = std::mem::replace(&mut self.service, fresh);
        let mapping = self.mapping;
        let route_id = self.route_id.clone();
        let (collector, plugin) = (self.collector.clone(), self.plugin.clone());
        Box::pin(async move {
            let sent = mapping.to_wasm(&mut exchange, route_id.as_deref()).await?;
            let started = std::time::Instant::now();
            let returned = ready.call(sent).await;
            if let Some(collector) = &collector {
                collector.report(&plugin, route_id.as_deref(), started.elapsed(), returned.as_ref().err());
            }
            mapping.apply(&mut exchange, returned.map_err(wasm_to_camel)?);
            Ok(exchange)
        })
    }
}
