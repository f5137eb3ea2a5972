//! A bean-world guest as a rust-camel bean (`camel_bean::BeanProcessor`).

use async_trait::async_trait;
use camel_api::{CamelError, Exchange as CamelExchange};
use camel_bean::BeanProcessor;

use super::error::{CamelWasmError, wasm_to_camel};
use super::mapping::ExchangeMapping;
use super::observe::Collector;
use crate::{Bean, EndpointUri, Limits, Runtime, WasmError};

/// A WASM bean for a CamelContext's `BeanRegistry`: `.bean("text", "reverse")`
/// in a route calls the guest's `reverse` on the exchange.
///
/// Register it with `BeanRegistry::register(name, bean)` and hand the
/// registry to `CamelContext::builder().beans(..)`.
#[derive(Debug, Clone)]
pub struct WasmBean {
    bean: Bean,
    mapping: ExchangeMapping,
    collector: Option<Collector>,
}

impl WasmBean {
    /// Wraps a loaded [`Bean`]; stream bodies are read up to its `max-stream-bytes`.
    pub fn new(bean: Bean) -> Self {
        Self { mapping: ExchangeMapping::for_limits(bean.limits()), bean, collector: None }
    }

    /// Reports each call to `collector` (e.g. `context.metrics()`): its duration and errors.
    pub fn with_collector(mut self, collector: std::sync::Arc<dyn camel_api::MetricsCollector>) -> Self {
        self.collector = Some(Collector(collector));
        self
    }

    /// Loads the bean at `path` (relative to the runtime's base directory);
    /// each instance's `init` gets `config`.
    pub async fn load(runtime: &Runtime, path: &str, limits: Limits, config: Vec<(String, String)>) -> Result<Self, WasmError> {
        Ok(Self::new(Bean::load(runtime, path, limits, config).await?))
    }

    /// Loads the bean a `wasm:path?knobs` URI names.
    pub async fn from_uri(runtime: &Runtime, uri: &str, config: Vec<(String, String)>) -> Result<Self, CamelWasmError> {
        let uri: EndpointUri = uri.parse()?;
        Ok(Self::load(runtime, &uri.path, uri.limits, config).await?)
    }

    /// Reads stream bodies up to `bytes` instead of the limits' `max-stream-bytes`.
    pub fn with_stream_limit(mut self, bytes: usize) -> Self {
        self.mapping = ExchangeMapping::new(bytes);
        self
    }

    /// The loaded bean.
    pub fn bean(&self) -> &Bean {
        &self.bean
    }
}

#[async_trait]
impl BeanProcessor for WasmBean {
    async fn call(&self, method: &str, exchange: &mut CamelExchange) -> Result<(), CamelError> {
        let sent = self.mapping.to_wasm(exchange, None).await?;
        let started = std::time::Instant::now();
        let returned = self.bean.invoke(method, sent).await;
        if let Some(collector) = &self.collector {
            collector.report(self.bean.name(), None, started.elapsed(), returned.as_ref().err());
        }
        self.mapping.apply(exchange, returned.map_err(wasm_to_camel)?);
        Ok(())
    }

    fn methods(&self) -> Vec<String> {
        self.bean.methods().to_vec()
    }
}
