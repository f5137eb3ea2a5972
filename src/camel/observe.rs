//! Each guest call reported to rust-camel's metrics collector (`RuntimeObservability::metrics()`,
//! or `CamelContext::metrics()`): `camel_wasm_call_duration_seconds{plugin,route}` and,
//! on a failure, `increment_errors(route, "wasm_<kind>")`.

use std::sync::Arc;
use std::time::Duration;

use camel_api::MetricsCollector;

use crate::WasmError;

/// A collector calls are reported to.
#[derive(Clone)]
pub(crate) struct Collector(pub(crate) Arc<dyn MetricsCollector>);

impl std::fmt::Debug for Collector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Collector")
    }
}

impl Collector {
    /// Reports one call of `plugin` (on `route_id`, when known) that took `took`.
    pub(crate) fn report(&self, plugin: &str, route_id: Option<&str>, took: Duration, error: Option<&WasmError>) {
        let route = route_id.unwrap_or("");
        self.0.record_histogram("camel_wasm_call_duration_seconds", took.as_secs_f64(), &[("plugin", plugin), ("route", route)]);
        if let Some(error) = error {
            self.0.increment_errors(route, &format!("wasm_{}", error.kind()));
        }
    }
}
