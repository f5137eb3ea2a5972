//! Per-endpoint metrics through the [`metrics`] facade, so any exporter works.
//!
//! Every series is labelled `plugin` and `world` (and `method` for beans):
//!
//! | series | kind | what |
//! |---|---|---|
//! | `camel_wasm_calls_total` | counter | calls made |
//! | `camel_wasm_errors_total{kind}` | counter | failed calls: `timeout`, `out_of_memory`, `trap`, `panic`, `guest`, `init`, `limit`, `other`; and `denied` guest calls |
//! | `camel_wasm_call_duration_seconds` | histogram | call latency, slot wait included |
//! | `camel_wasm_slot_wait_seconds` | histogram | time waiting for a call slot |
//! | `camel_wasm_instantiations_total` | counter | instances made |
//! | `camel_wasm_instances_live` / `camel_wasm_instances_idle` | gauge | instances existing / waiting in the pool |
//! | `camel_wasm_stream_bytes_total{direction=in\|out}` | counter | stream body bytes to / from guests |
//! | `camel_wasm_state_errors_total{plugin, store}` | counter | `host-store` state operations the store failed (Redis down, slow; `plugin` is the state's endpoint) |
//!
//! Handles are registered when an endpoint is created: install the recorder
//! (an exporter) before loading plugins. With no recorder every handle is a
//! no-op. For Prometheus, [`prometheus`] (feature `prometheus`) exports the
//! latency series as histograms with [`DURATION_BUCKETS`], which a fleet can
//! aggregate (`histogram_quantile` over the sum of every host's buckets).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ::metrics::{Counter, Gauge, Histogram, Label};

use crate::error::WasmError;

/// The latency series: histograms, in seconds.
pub const LATENCY_SERIES: [&str; 2] = ["camel_wasm_call_duration_seconds", "camel_wasm_slot_wait_seconds"];

/// Bucket upper bounds, in seconds, for the latency series: 1 µs (a reused
/// call takes a few) to 30 s (the longest deadlines), about 2.5× apart.
pub const DURATION_BUCKETS: [f64; 23] = [
    1e-6, 2.5e-6, 5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2, 2.5e-2, 5e-2, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0, 30.0,
];

/// How a Prometheus exporter shows the latency series.
#[derive(Debug, Clone, PartialEq)]
pub enum Latency {
    /// Histograms with these bucket bounds (seconds): aggregatable across hosts.
    Histogram(Vec<f64>),
    /// Summaries (quantiles computed on each host): not aggregatable.
    Summary,
}

impl Default for Latency {
    /// Histograms with [`DURATION_BUCKETS`].
    fn default() -> Self {
        Latency::Histogram(DURATION_BUCKETS.to_vec())
    }
}

/// A Prometheus exporter for camel-wasm's metrics, its latency series shown as `latency` says.
///
/// An empty bucket list is an error. Install it with `install_recorder()` (or
/// serve it with `install()`) before loading plugins.
#[cfg(feature = "prometheus")]
pub fn prometheus(
    latency: Latency,
) -> Result<metrics_exporter_prometheus::PrometheusBuilder, metrics_exporter_prometheus::BuildError> {
    let mut builder = metrics_exporter_prometheus::PrometheusBuilder::new();
    if let Latency::Histogram(buckets) = latency {
        for series in LATENCY_SERIES {
            builder = builder.set_buckets_for_metric(metrics_exporter_prometheus::Matcher::Full(series.into()), &buckets)?;
        }
    }
    Ok(builder)
}

/// The error kinds of `camel_wasm_errors_total`, in [`ErrorKind`] order.
const KINDS: [&str; 9] = ["timeout", "out_of_memory", "trap", "panic", "guest", "init", "limit", "other", "denied"];

/// Why a call failed, as a metric label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ErrorKind {
    Timeout,
    OutOfMemory,
    Trap,
    Panic,
    Guest,
    Init,
    Limit,
    Other,
    Denied,
}

impl ErrorKind {
    /// The label value.
    pub(crate) fn label(self) -> &'static str {
        KINDS[self as usize]
    }

    /// The kind of a call's error.
    pub(crate) fn of(error: &WasmError) -> Self {
        match error {
            WasmError::Timeout { .. } => Self::Timeout,
            WasmError::OutOfMemory { .. } => Self::OutOfMemory,
            WasmError::Trap { .. } => Self::Trap,
            WasmError::GuestPanic { .. } => Self::Panic,
            WasmError::Guest { .. } => Self::Guest,
            WasmError::InitFailed { .. } => Self::Init,
            WasmError::LimitExceeded { .. } | WasmError::NoInstanceSlot { .. } => Self::Limit,
            _ => Self::Other,
        }
    }
}

/// The handles of one label set (an endpoint, or one bean method).
struct CallSeries {
    calls: Counter,
    duration: Histogram,
    errors: [Counter; KINDS.len()],
}

impl CallSeries {
    fn new(labels: &[Label]) -> Self {
        let errors = KINDS.map(|kind| {
            let mut labels = labels.to_vec();
            labels.push(Label::new("kind", kind));
            ::metrics::counter!("camel_wasm_errors_total", labels)
        });
        Self {
            calls: ::metrics::counter!("camel_wasm_calls_total", labels.to_vec()),
            duration: ::metrics::histogram!("camel_wasm_call_duration_seconds", labels.to_vec()),
            errors,
        }
    }
}

/// The metric handles of one endpoint.
pub(crate) struct EndpointMetrics {
    labels: Vec<Label>,
    series: CallSeries,
    methods: Mutex<HashMap<String, Arc<CallSeries>>>,
    slot_wait: Histogram,
    instantiations: Counter,
    pub(crate) live: Gauge,
    pub(crate) idle: Gauge,
    stream_in: Counter,
    stream_out: Counter,
}

impl EndpointMetrics {
    /// The handles for `plugin` of `world`.
    pub(crate) fn new(plugin: &str, world: &'static str) -> Self {
        let labels = vec![Label::new("plugin", plugin.to_string()), Label::new("world", world)];
        let with = |extra: (&'static str, &'static str)| {
            let mut l = labels.clone();
            l.push(Label::new(extra.0, extra.1));
            l
        };
        Self {
            series: CallSeries::new(&labels),
            methods: Mutex::default(),
            slot_wait: ::metrics::histogram!("camel_wasm_slot_wait_seconds", labels.clone()),
            instantiations: ::metrics::counter!("camel_wasm_instantiations_total", labels.clone()),
            live: ::metrics::gauge!("camel_wasm_instances_live", labels.clone()),
            idle: ::metrics::gauge!("camel_wasm_instances_idle", labels.clone()),
            stream_in: ::metrics::counter!("camel_wasm_stream_bytes_total", with(("direction", "in"))),
            stream_out: ::metrics::counter!("camel_wasm_stream_bytes_total", with(("direction", "out"))),
            labels,
        }
    }

    /// Records one finished call (of `method`, for beans) that took `took`.
    pub(crate) fn call(&self, method: Option<&str>, took: Duration, error: Option<ErrorKind>) {
        let record = |series: &CallSeries| {
            series.calls.increment(1);
            series.duration.record(took.as_secs_f64());
            if let Some(kind) = error {
                series.errors[kind as usize].increment(1);
            }
        };
        match method {
            None => record(&self.series),
            Some(method) => record(&self.method(method)),
        }
    }

    fn method(&self, method: &str) -> Arc<CallSeries> {
        let mut methods = self.methods.lock().unwrap();
        if let Some(series) = methods.get(method) {
            return series.clone();
        }
        let mut labels = self.labels.clone();
        labels.push(Label::new("method", method.to_string()));
        let series = Arc::new(CallSeries::new(&labels));
        // Bounded: a bean's methods are a fixed list, and unknown ones never reach the pool.
        methods.insert(method.to_string(), series.clone());
        series
    }

    /// Records the wait for a call slot.
    pub(crate) fn slot_wait(&self, waited: Duration) {
        self.slot_wait.record(waited.as_secs_f64());
    }

    /// Records a new instance.
    pub(crate) fn instantiated(&self) {
        self.instantiations.increment(1);
        self.live.increment(1.0);
    }

    /// The counter of guest calls out the allowlist denied (`kind=denied`).
    pub(crate) fn denied_counter(&self) -> Counter {
        self.series.errors[ErrorKind::Denied as usize].clone()
    }

    /// The counter of stream bytes into (`true`) or out of a guest.
    pub(crate) fn stream_counter(&self, into_guest: bool) -> Counter {
        if into_guest { self.stream_in.clone() } else { self.stream_out.clone() }
    }
}

impl WasmError {
    /// The `kind` label this error is counted under in `camel_wasm_errors_total`
    /// (`timeout`, `out_of_memory`, `trap`, ...).
    pub fn kind(&self) -> &'static str {
        ErrorKind::of(self).label()
    }
}
