//! Metrics, guest output as tracing events, and health, through real guests.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use camel_wasm::{Exchange, HealthStatus, Plugin};
use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};

use crate::fixture::{guest, runtime};

/// `wasm:<name>.wasm?<knobs>`, its metric handles bound to a recorder of its own.
fn observed(name: &str, knobs: &str) -> (Plugin, Snapshotter) {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let uri = format!("wasm:{}?{knobs}", guest(name));
    let plugin = metrics::with_local_recorder(&recorder, || Plugin::from_uri(runtime(), &uri)).unwrap();
    (plugin, snapshotter)
}

/// Everything recorded so far (a snapshot drains histograms: take one per check).
type Recorded = Vec<(metrics_util::CompositeKey, Option<metrics::Unit>, Option<metrics::SharedString>, DebugValue)>;

/// The recorded series named `name`, with their values.
fn series<'a>(recorded: &'a Recorded, name: &'a str) -> impl Iterator<Item = (&'a metrics_util::CompositeKey, &'a DebugValue)> {
    recorded.iter().filter(move |(key, ..)| key.key().name() == name).map(|(key, .., value)| (key, value))
}

/// The value of counter `name` with label `kind` (when given).
fn counter(recorded: &Recorded, name: &str, kind: Option<&str>) -> u64 {
    series(recorded, name)
        .filter(|(key, _)| kind.is_none_or(|k| key.key().labels().any(|l| l.key() == "kind" && l.value() == k)))
        .map(|(_, value)| match value {
            DebugValue::Counter(n) => *n,
            _ => 0,
        })
        .sum()
}

fn histogram_samples(recorded: &Recorded, name: &str) -> usize {
    series(recorded, name)
        .map(|(_, value)| match value {
            DebugValue::Histogram(samples) => samples.len(),
            _ => 0,
        })
        .sum()
}

/// The value of gauge `name` since the last snapshot (the endpoints of one file share its series).
fn gauge(recorded: &Recorded, name: &str) -> f64 {
    series(recorded, name)
        .map(|(_, value)| match value {
            DebugValue::Gauge(v) => v.into_inner(),
            _ => 0.0,
        })
        .sum()
}

#[tokio::test]
async fn calls_and_each_error_kind_are_counted() {
    let (chaos, metrics) = observed("chaos", "timeout=0.5&max-memory=16777216");
    for body in ["ok", "error", "spin", "alloc", "recurse", "panic", "fine"] {
        let _ = chaos.process(Exchange::new(body)).await;
    }
    let metrics = metrics.snapshot().into_vec();
    assert_eq!(counter(&metrics, "camel_wasm_calls_total", None), 7);
    for kind in ["guest", "timeout", "out_of_memory", "trap", "panic"] {
        assert_eq!(counter(&metrics, "camel_wasm_errors_total", Some(kind)), 1, "{kind}");
    }
    assert_eq!(histogram_samples(&metrics, "camel_wasm_call_duration_seconds"), 7);
    // Four instances were thrown away after their failures and replaced.
    assert_eq!(counter(&metrics, "camel_wasm_instantiations_total", None), 5);

    let (init, metrics) = observed("flaky-init", "");
    let _ = init.process(Exchange::new("x")).await;
    let metrics = metrics.snapshot().into_vec();
    assert_eq!(counter(&metrics, "camel_wasm_errors_total", Some("init")), 1);

    let (forward, metrics) = observed("forward", "");
    let _ = forward.process(Exchange::new("x").with_header("forward-to", "log:x")).await;
    let metrics = metrics.snapshot().into_vec();
    assert_eq!(counter(&metrics, "camel_wasm_errors_total", Some("denied")), 1, "a call out allow-call refused");
}

#[tokio::test]
async fn idle_instances_of_endpoints_of_one_file_add_up_and_leave_with_them() {
    let recorder = DebuggingRecorder::new();
    let metrics = recorder.snapshotter();
    let uri = format!("wasm:{}", guest("upper"));
    let [a, b] = metrics::with_local_recorder(&recorder, || [(); 2].map(|_| Plugin::from_uri(runtime(), &uri).unwrap()));
    for plugin in [&a, &b] {
        plugin.process(Exchange::new("x")).await.unwrap();
    }
    // A snapshot swaps a gauge to 0: add up what each one read.
    let mut level = 0.0;
    let mut idle = || {
        level += gauge(&metrics.snapshot().into_vec(), "camel_wasm_instances_idle");
        level
    };
    assert_eq!(idle(), 2.0, "one warm instance per endpoint, one series for the file");
    drop(a);
    assert_eq!(idle(), 1.0, "a dropped endpoint takes its idle instances away");
    drop(b);
    assert_eq!(idle(), 0.0);
}

#[tokio::test]
async fn stream_bytes_are_counted_both_ways() {
    let (upper, metrics) = observed("stream-upper", "");
    let body = camel_wasm::StreamBody::from_chunks((0..4).map(|_| Ok(bytes::Bytes::from_static(&[b'a'; 1000]))));
    let out = upper.process(Exchange::new(camel_wasm::Body::Stream(body))).await.unwrap();
    out.input.body.as_stream().unwrap().read_all(1 << 20).await.unwrap();
    let recorded = metrics.snapshot().into_vec();
    let by_direction = |direction: &str| -> u64 {
        recorded
            .iter()
            .filter(|(key, ..)| key.key().name() == "camel_wasm_stream_bytes_total")
            .filter(|(key, ..)| key.key().labels().any(|l| l.key() == "direction" && l.value() == direction))
            .map(|(.., v)| if let DebugValue::Counter(n) = v { *n } else { 0 })
            .sum()
    };
    assert_eq!(by_direction("in"), 4000);
    assert_eq!(by_direction("out"), 4000);
}

/// A writer collecting everything a tracing subscriber prints.
#[derive(Clone, Default)]
pub(crate) struct Captured(pub(crate) Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn guest_output_reaches_the_tracing_subscriber_with_the_plugins_name() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt().with_writer(move || writer.clone()).with_ansi(false).finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let chaos = Plugin::from_uri(runtime(), &format!("wasm:{}", guest("chaos"))).unwrap();
    let _ = chaos.process(Exchange::new("panic")).await;
    let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let line = text.lines().find(|l| l.contains("chaos: asked to panic")).unwrap_or_else(|| panic!("no guest line in:\n{text}"));
    assert!(line.contains("WARN"), "stderr is a warning: {line}");
    assert!(line.contains("plugin=\"chaos.wasm\"") || line.contains("plugin=chaos.wasm"), "{line}");
    assert!(line.contains("stream=\"stderr\"") || line.contains("stream=stderr"), "{line}");
}

#[tokio::test]
async fn health_degrades_after_failures_in_a_row_and_recovers_after_a_success() {
    let uri = format!("wasm:{}?unhealthy-after=2&timeout=0.3", guest("chaos"));
    let chaos = Plugin::from_uri(runtime(), &uri).unwrap();
    let _ = chaos.process(Exchange::new("spin")).await;
    assert_eq!(chaos.health(), HealthStatus::Healthy, "one failure is not yet two");
    let _ = chaos.process(Exchange::new("error")).await;
    assert_eq!(chaos.health(), HealthStatus::Healthy, "a guest's own error is an answer, not a failure");
    let _ = chaos.process(Exchange::new("spin")).await;
    match chaos.health() {
        HealthStatus::Unhealthy { consecutive_failures, last_error } => {
            assert_eq!(consecutive_failures, 2);
            assert!(last_error.contains("timed out"), "{last_error}");
        }
        other => panic!("expected unhealthy, got {other:?}"),
    }
    chaos.process(Exchange::new("fine")).await.unwrap();
    assert_eq!(chaos.health(), HealthStatus::Healthy);
    let _ = tokio::time::sleep(Duration::ZERO).await;
}
