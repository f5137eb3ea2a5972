//! A `wasm:` endpoint: one loaded plugin and its producer.

use std::sync::Arc;

use camel_api::{BoxProcessor, CamelError, ProducerContext};
use camel_component_api::{Consumer, Endpoint, RuntimeObservability};

use super::health::WasmHealthCheck;
use super::mapping::ExchangeMapping;
use super::producer::WasmProducer;
use crate::Plugin;

/// The endpoint a `wasm:path?knobs` URI naming a plugin gets: a route step (producer only).
///
/// A URI naming a source gets a [`WasmSourceEndpoint`](super::WasmSourceEndpoint) instead.
pub struct WasmEndpoint {
    uri: String,
    plugin: Plugin,
    mapping: ExchangeMapping,
    health: WasmHealthCheck,
}

impl std::fmt::Debug for WasmEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WasmEndpoint").field("uri", &self.uri).field("plugin", &self.plugin).finish_non_exhaustive()
    }
}

impl WasmEndpoint {
    /// An endpoint for `uri` over the loaded `plugin`.
    pub fn new(uri: impl Into<String>, plugin: Plugin, mapping: ExchangeMapping, health: WasmHealthCheck) -> Self {
        Self { uri: uri.into(), plugin, mapping, health }
    }

    /// The plugin this endpoint runs.
    pub fn plugin(&self) -> &Plugin {
        &self.plugin
    }

    /// This endpoint's health check.
    pub fn health_check(&self) -> &WasmHealthCheck {
        &self.health
    }
}

impl Endpoint for WasmEndpoint {
    fn uri(&self) -> &str {
        &self.uri
    }

    fn create_consumer(&self, _rt: Arc<dyn RuntimeObservability>) -> Result<Box<dyn Consumer>, CamelError> {
        Err(CamelError::EndpointCreationFailed(format!(
            "'{}' is a plugin (a route step): a route can only start from a source guest (one of the source world)",
            self.uri
        )))
    }

    fn create_producer(&self, rt: Arc<dyn RuntimeObservability>, ctx: &ProducerContext) -> Result<BoxProcessor, CamelError> {
        let route_id = ctx.route_id().map(str::to_owned);
        let producer = WasmProducer::new(&self.plugin, self.mapping, route_id).with_collector(rt.metrics());
        Ok(BoxProcessor::new(producer))
    }
}
