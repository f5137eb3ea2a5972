//! `just bench`: per-call latency, load times, throughput and memory, with
//! medians, p99s and p999s, written to `benches/results.md`.
//!
//! A plain harness (no criterion): each figure is the median (p99, p999) of
//! many timed calls through the public API, on real guests from `guests/dist`.

#[path = "suite/charts.rs"]
mod charts;
#[path = "../tests/support/edge.rs"]
mod edge;
#[path = "suite/edge.rs"]
mod edge_bench;
#[path = "suite/heap.rs"]
mod heap;
#[path = "../src/bin/camel-wasm/measure.rs"]
#[allow(dead_code)]
mod measure;
#[path = "../tests/support/redis.rs"]
mod redis_server;
#[path = "suite/state.rs"]
mod state;
#[path = "../src/bin/camel-wasm/target.rs"]
#[allow(dead_code)]
mod target;

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use camel_wasm::{Bean, Body, Exchange, Language, Limits, Plugin, Policy, Runtime, StreamBody};
use futures::StreamExt;
use measure::{Stats, latency, latency_samples, micros, resident_bytes, throughput_latency};
use target::Target;

const DIST: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/guests/dist");

/// Endpoints loaded for the per-endpoint resident memory figure.
const LOADED: usize = 20;

/// Each throughput row takes at least this long, as `camel-wasm bench` does by default.
const WINDOW: Duration = Duration::from_secs(1);

struct Report {
    lines: Vec<String>,
}

impl Report {
    /// A row; `target` is the median to stay under, in microseconds.
    fn row(&mut self, what: &str, stats: Stats, target: Option<f64>) {
        self.row_with_tail(what, stats, target, None);
    }

    /// A row; `target` is the median to stay under, in microseconds, and
    /// `tail` the most the p99 may be, as a multiple of the median.
    fn row_with_tail(&mut self, what: &str, stats: Stats, target: Option<f64>, tail: Option<f64>) {
        let median = stats.median.as_secs_f64() * 1e6;
        let mut verdict = match target {
            None => String::new(),
            Some(t) if median <= t => format!("≤ {t} µs: met"),
            Some(t) => format!("≤ {t} µs: MISSED by {:.2} µs", median - t),
        };
        if let Some(times) = tail {
            let ratio = stats.p99.as_secs_f64() * 1e6 / median;
            let met = if ratio <= times { "met" } else { "MISSED" };
            verdict.push_str(&format!("; p99 ≤ {times}× median: {met} ({ratio:.2}×)"));
        }
        let line = format!(
            "| {what} | {} | {} | {} | {} | {verdict} |",
            micros(stats.median),
            micros(stats.p99),
            micros(stats.p999),
            stats.count
        );
        println!("{line}");
        self.lines.push(line);
    }

    fn text(&mut self, line: String) {
        println!("{line}");
        self.lines.push(line);
    }
}

fn limits(query: &str) -> Limits {
    let mut limits = Limits::default();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap();
        limits.set(k, v).unwrap();
    }
    limits
}

/// Loads of `file`, each compiling it in a fresh runtime (no cache).
fn cold_load(file: &str, n: usize) -> Stats {
    time_n(n, || {
        let fresh = Runtime::builder().base_dir(DIST).pooling(false).build().unwrap();
        Plugin::load(&fresh, file, Limits::default()).unwrap();
    })
}

/// Loads of `file` from a disk cache it was compiled into, each in a fresh runtime.
fn cache_load(file: &str, n: usize) -> Stats {
    let cache_dir = std::env::temp_dir().join(format!("camel-wasm-bench-cache-{}", std::process::id()));
    let fresh = || Runtime::builder().base_dir(DIST).cache_dir(&cache_dir).pooling(false).build().unwrap();
    let _ = fresh().inspect(file);
    // Started before the clock runs: only the loads are timed.
    let runtimes: Vec<Runtime> = (0..n).map(|_| fresh()).collect();
    let mut next = runtimes.iter();
    let stats = time_n(n, || {
        Plugin::load(next.next().unwrap(), file, Limits::default()).unwrap();
    });
    drop(runtimes);
    let _ = std::fs::remove_dir_all(&cache_dir);
    stats
}

fn time_n(n: usize, mut f: impl FnMut()) -> Stats {
    let mut samples: Vec<Duration> = (0..n)
        .map(|_| {
            let started = Instant::now();
            f();
            started.elapsed()
        })
        .collect();
    Stats::of(&mut samples)
}

#[global_allocator]
static ALLOCATOR: heap::Counting = heap::Counting;

/// A section run alone: one that needs no runtime from `main`, or one run on a tokio runtime and a `Runtime` made for it.
enum Alone {
    Own(fn(&mut Report)),
    Shared(fn(&tokio::runtime::Runtime, &Runtime, &mut Report)),
}

fn main() {
    // `cargo test --all-targets` runs bench binaries without `--bench`: do nothing then.
    if !std::env::args().any(|a| a == "--bench") {
        println!("benchmarks run with `just bench` (cargo bench)");
        return;
    }
    // `cargo bench --bench suite -- --bench language|endpoints|python|streams|sources|state|versus`: one section alone
    // (not written to results.md; its charts go to target/bench-only, so benches/ keeps one run's).
    let alone = std::env::args().find_map(|a| {
        Some(match a.as_str() {
            "state" => Alone::Own(state_section),
            "versus" => Alone::Own(versus_rust_camel),
            "streams" => Alone::Shared(streams),
            "sources" => Alone::Shared(sources),
            "python" => Alone::Shared(python),
            "language" => Alone::Shared(language),
            "endpoints" => Alone::Shared(endpoints),
            _ => return None,
        })
    });
    if let Some(section) = alone {
        charts::draw_into(concat!(env!("CARGO_MANIFEST_DIR"), "/target/bench-only"));
        let r = &mut Report { lines: Vec::new() };
        return match section {
            Alone::Own(section) => section(r),
            Alone::Shared(section) => {
                let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
                section(&rt, &Runtime::builder().base_dir(DIST).build().unwrap(), r)
            }
        };
    }
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let mut r = Report { lines: Vec::new() };
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines().find(|l| l.starts_with("model name")).map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    r.text(format!("Machine: {} cores, {cpu}", std::thread::available_parallelism().map_or(0, |n| n.get())));
    let rss_start = resident_bytes();
    let runtime = Runtime::builder().base_dir(DIST).build().unwrap();
    r.text(format!("Pooling allocator: {}", runtime.uses_pooling()));
    r.text(String::new());
    r.text("| scenario | median | p99 | p999 | samples | target |".into());
    r.text("|---|---|---|---|---|---|".into());

    rt.block_on(async {
        // Per-call latency through `upper`, reused instances; the main scenarios' distributions are charted.
        let mut distributions: Vec<(String, Vec<Duration>)> = Vec::new();
        let upper = Plugin::load(&runtime, "upper.wasm", Limits::default()).unwrap();
        let target = Target::Plugin(upper.clone());
        for (size, label, goal) in [(64, "64 B", None), (1024, "1 KiB", Some(2.5)), (64 * 1024, "64 KiB", None)] {
            let ex = Exchange::new("x".repeat(size));
            let calls = if size > 4096 { 3000 } else { 20000 };
            let mut samples = latency_samples(&target, &ex, 500, calls).await.unwrap();
            r.row(&format!("upper, {label} body, reused instance"), Stats::of(&mut samples), goal);
            if size == 1024 {
                distributions.push(("upper, reused instance".into(), samples));
            }
        }
        let per_call = Target::Plugin(Plugin::load(&runtime, "upper.wasm", limits("isolation=per-call")).unwrap());
        let ex = Exchange::new("x".repeat(1024));
        let mut samples = latency_samples(&per_call, &ex, 500, 20000).await.unwrap();
        r.row_with_tail("upper, 1 KiB body, isolation=per-call", Stats::of(&mut samples), Some(25.0), Some(3.0));
        distributions.push(("upper, isolation=per-call".into(), samples));

        let bean = Bean::load(&runtime, "text-utils.wasm", Limits::default(), vec![]).await.unwrap();
        let mut samples = latency_samples(&Target::Bean(bean, "reverse".into()), &ex, 500, 20000).await.unwrap();
        r.row("bean text-utils.reverse, 1 KiB body", Stats::of(&mut samples), None);
        distributions.push(("bean text-utils.reverse".into(), samples));
        let policy = Policy::load(&runtime, "role-check.wasm", Limits::default(), vec![]).unwrap();
        let admin = Exchange::new("x").with_property("camel.auth.roles", serde_json::json!(["admin"]));
        let mut samples = latency_samples(&Target::Policy(policy), &admin, 500, 20000).await.unwrap();
        r.row("policy role-check.evaluate", Stats::of(&mut samples), Some(1.2));
        distributions.push(("policy role-check.evaluate".into(), samples));
        let tiers = Language::load(&runtime, "tiers.wasm", Limits::default(), vec![]).await.unwrap();
        let gold = ex.clone().with_header("tier", "gold");
        let samples =
            latency_samples(&Target::Language(tiers, target::Ask::Matches("is-gold".into())), &gold, 500, 20000).await.unwrap();
        distributions.push(("language tiers#is-gold".into(), samples));
        charts::draw(
            "latency.svg",
            charts::latency_distribution(
                "latency.svg",
                "Latency of each call, 1 KiB text body (20,000 calls each)",
                &distributions,
            ),
        );
    });

    // Loads: cold (compile), warm (already compiled in this runtime), disk cache (fresh runtime).
    r.row("load, cold (compile + runtime start)", cold_load("upper.wasm", 5), None);
    let warm = time_n(200, || {
        Plugin::load(&runtime, "upper.wasm", Limits::default()).unwrap();
    });
    r.row("load, warm (file already compiled)", warm, Some(1000.0));
    r.row("load, from the disk cache (fresh runtime)", cache_load("upper.wasm", 20), Some(1000.0));

    rt.block_on(async {
        // Throughput with 1, 2 and 16 callers on one endpoint (max-concurrent 16).
        let upper = Target::Plugin(Plugin::load(&runtime, "upper.wasm", Limits::default()).unwrap());
        let ex = Exchange::new("x".repeat(1024));
        throughput_latency(&upper, &ex, 2, 20000, Duration::ZERO).await.unwrap();
        r.text(String::new());
        r.text("| callers | calls/s (upper, 1 KiB), median of 3 | vs 1 caller, median of 3 interleaved rounds | per-call median | p99 | p999 |".into());
        r.text("|---|---|---|---|---|---|".into());
        // Three rounds of 1, 2 and 16 callers, interleaved, so that each round's
        // ratio compares runs made seconds apart (this machine drifts more over a minute).
        const CALLERS: [usize; 3] = [1, 2, 16];
        let mut rounds: Vec<Vec<(f64, Stats)>> = Vec::new();
        for _ in 0..3 {
            let mut round = Vec::new();
            for callers in CALLERS {
                round.push(throughput_latency(&upper, &ex, callers, 60000, WINDOW).await.unwrap());
            }
            rounds.push(round);
        }
        for (i, callers) in CALLERS.into_iter().enumerate() {
            let mut ratios: Vec<f64> = rounds.iter().map(|round| round[i].0 / round[0].0).collect();
            let shown = ratios.iter().map(|x| format!("{x:.2}×")).collect::<Vec<_>>().join(", ");
            ratios.sort_by(f64::total_cmp);
            let mut runs: Vec<(f64, Stats)> = rounds.iter().map(|round| round[i]).collect();
            runs.sort_by(|a, b| a.0.total_cmp(&b.0));
            let ((rate, stats), ratio) = (runs[1], ratios[1]);
            let goal = match callers {
                2 if ratio >= 1.8 => format!(" (rounds: {shown}; target ≥ 1.8×: met)"),
                2 => format!(" (rounds: {shown}; target ≥ 1.8×: MISSED by {:.2}×)", 1.8 - ratio),
                16 => format!(" (rounds: {shown})"),
                _ => String::new(),
            };
            r.text(format!(
                "| {callers} | {rate:.0} | {ratio:.2}×{goal} | {} | {} | {} |",
                micros(stats.median),
                micros(stats.p99),
                micros(stats.p999)
            ));
        }

        // Per-call isolation under load: spares are made by a low-priority
        // thread, so with every core busy callers make their own.
        let per_call = Target::Plugin(Plugin::load(&runtime, "upper.wasm", limits("isolation=per-call")).unwrap());
        r.text(String::new());
        r.text("| callers, isolation=per-call | calls/s (upper, 1 KiB) | vs 1 caller | per-call median | p99 | p999 |".into());
        r.text("|---|---|---|---|---|---|".into());
        let mut base = 0.0;
        for callers in [1, 2] {
            let (rate, stats) = throughput_latency(&per_call, &ex, callers, 20000, WINDOW).await.unwrap();
            if callers == 1 {
                base = rate;
            }
            r.text(format!(
                "| {callers} | {rate:.0} | {:.2}× | {} | {} | {} |",
                rate / base,
                micros(stats.median),
                micros(stats.p99),
                micros(stats.p999)
            ));
        }

        // Memory: 20 more endpoints of a component this runtime already compiled, then 16 warm instances.
        let uri = "wasm:slow-call.wasm?allow-call=hold";
        let _compiled = Plugin::from_uri(&runtime, uri).unwrap();
        let before_load = resident_bytes();
        let (more, heap_grew) = heap::growth(|| (0..LOADED).map(|_| Plugin::from_uri(&runtime, uri).unwrap()).collect::<Vec<_>>());
        let loaded = resident_bytes();
        let slow = more[0].clone();
        runtime.endpoints().register_fn("hold", |_req: camel_wasm::CallRequest| async move {
            tokio::time::sleep(Duration::from_millis(100)).await;
            Ok(String::from("held"))
        });
        let calls: Vec<_> = (0..16)
            .map(|_| {
                let slow = slow.clone();
                tokio::spawn(async move { slow.process(Exchange::new("x").with_header("call-uri", "hold:x")).await })
            })
            .collect();
        for call in calls {
            call.await.unwrap().unwrap();
        }
        let warm = resident_bytes();
        r.text(String::new());
        r.text(format!(
            "Resident memory: process at start {:.1} MiB; runtime and guests loaded {:.1} MiB; \
             each further endpoint of an already compiled component +{:.1} KiB resident, {} B of heap ({LOADED} loaded); \
             each warm instance +{:.1} KiB ({} idle instances)",
            rss_start as f64 / 1048576.0,
            before_load as f64 / 1048576.0,
            loaded.saturating_sub(before_load) as f64 / 1024.0 / LOADED as f64,
            heap_grew / LOADED as isize,
            warm.saturating_sub(loaded) as f64 / 1024.0 / slow.idle_instances().max(1) as f64,
            slow.idle_instances(),
        ));
    });

    streams(&rt, &runtime, &mut r);
    language(&rt, &runtime, &mut r);
    endpoints(&rt, &runtime, &mut r);
    python(&rt, &runtime, &mut r);
    state_section(&mut r);
    // `-- --bench no-versus`: skip the rust-camel build (about 20 minutes the first time).
    if std::env::args().any(|a| a == "no-versus") {
        r.text(String::new());
        r.text("Against rust-camel 0.64: not run this time (`no-versus`); see docs/performance.md for the last one.".into());
    } else {
        versus_rust_camel(&mut r);
    }
    sources(&rt, &runtime, &mut r);

    // Last, since a recorder is global: the per-call cost of metrics with one installed.
    rt.block_on(async {
        let handle = metrics_exporter_prometheus::PrometheusBuilder::new().install_recorder().unwrap();
        let upper = Target::Plugin(Plugin::load(&runtime, "upper.wasm", Limits::default()).unwrap());
        let ex = Exchange::new("x".repeat(1024));
        let stats = latency(&upper, &ex, 500, 20000).await.unwrap();
        r.text(String::new());
        r.text(
            "Metrics: the first table ran with no recorder installed; the same call with a Prometheus recorder installed:".into(),
        );
        r.text(String::new());
        r.text("| scenario | median | p99 | p999 | samples | target |".into());
        r.text("|---|---|---|---|---|---|".into());
        r.row("upper, 1 KiB body, reused instance, Prometheus recorder installed", stats, None);
        drop(handle);
    });

    r.text(String::new());
    r.text("Where missed targets' time goes (perf profiles): see docs/performance.md.".into());
    r.text(String::new());
    r.text("Charts (drawn by this run; `versus.svg` and `versus-call.svg` only when the rust-camel comparison ran):".into());
    r.text(String::new());
    for (file, what) in [
        ("latency.svg", "latency distribution of the main scenarios"),
        ("language.svg", "the `wasm` language against rust-camel's `simple`"),
        ("endpoints.svg", "a call and resident memory as endpoints are added"),
        ("versus.svg", "camel-wasm against rust-camel 0.64 on its own guest"),
        ("versus-call.svg", "one call, camel-wasm against rust-camel 0.64, same file"),
    ] {
        r.text(format!("![{what}]({file})"));
    }
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/results.md");
    let mut out = String::from("# Benchmark results (`just bench`)\n\n");
    for line in &r.lines {
        let _ = writeln!(out, "{line}");
    }
    std::fs::write(path, out).unwrap();
    println!("\nwritten to benches/results.md");
}

/// `host-store` / `host-load` latency, in memory and in Redis on loopback.
fn state_section(r: &mut Report) {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    r.text(String::new());
    r.text("State (`host-store` / `host-load`): at the host's state API, and through the `counter` guest:".into());
    r.text(String::new());
    r.text("| scenario | median | p99 | p999 | samples | target |".into());
    r.text("|---|---|---|---|---|---|".into());
    for (what, stats) in state::rows(&rt, DIST) {
        r.row(&what, stats, None);
    }
}

/// Bytes streamed through each stream scenario.
const STREAM_BYTES: usize = 256 << 20;

/// A stream body of `total` bytes in `chunk`-byte chunks, all one shared buffer (no allocation per chunk).
/// Python guests (componentize-py) next to the Rust `upper`: compile, disk cache, reused and per-call calls, memory.
fn python(rt: &tokio::runtime::Runtime, runtime: &Runtime, r: &mut Report) {
    r.text(String::new());
    r.text("Python guests (componentize-py 0.25.1) next to Rust `upper`, 1 KiB text body:".into());
    r.text(String::new());
    r.text("| scenario | median | p99 | p999 | samples | target |".into());
    r.text("|---|---|---|---|---|---|".into());
    let size = std::fs::metadata(format!("{DIST}/py-upper.wasm")).map_or(0, |m| m.len());
    r.row(&format!("py-upper load, cold (compile {:.1} MB)", size as f64 / 1e6), cold_load("py-upper.wasm", 3), None);
    r.row("py-upper load, from the disk cache (fresh runtime)", cache_load("py-upper.wasm", 5), Some(100_000.0));

    rt.block_on(async {
        let ex = Exchange::new("x".repeat(1024));
        for (guest, reused_goal, per_call_goal, calls) in
            [("upper", None, None, 20000), ("py-upper", Some(20.0), Some(1000.0), 500)]
        {
            let file = format!("{guest}.wasm");
            let reused = Target::Plugin(Plugin::load(runtime, &file, Limits::default()).unwrap());
            let stats = latency(&reused, &ex, 200, calls * 10).await.unwrap();
            r.row(&format!("{guest}, reused instance"), stats, reused_goal);
            let per_call = Target::Plugin(Plugin::load(runtime, &file, limits("isolation=per-call")).unwrap());
            let stats = latency(&per_call, &ex, 20, calls).await.unwrap();
            r.row(&format!("{guest}, isolation=per-call"), stats, per_call_goal);
        }
        // Memory: one warm instance, then as many as two callers at once leave idle.
        let before = resident_bytes();
        let plugin = Plugin::load(runtime, "py-upper.wasm", Limits::default()).unwrap();
        let target = Target::Plugin(plugin.clone());
        latency(&target, &ex, 0, 100).await.unwrap();
        let one = resident_bytes();
        throughput_latency(&target, &ex, 4, 2000, Duration::ZERO).await.unwrap();
        let many = resident_bytes();
        let extra = plugin.idle_instances().saturating_sub(1).max(1);
        r.text(String::new());
        r.text(format!(
            "py-upper resident memory: the first warm instance (component already compiled) +{:.1} MiB; each further warm instance +{:.1} MiB \
             ({} idle instances)",
            one.saturating_sub(before) as f64 / 1048576.0,
            many.saturating_sub(one) as f64 / 1048576.0 / extra as f64,
            plugin.idle_instances(),
        ));
    });
}

/// `component` with a custom section named `name` appended: the same guest, a distinct file (and compile).
fn with_custom_section(component: &[u8], name: &str) -> Vec<u8> {
    fn leb(mut n: usize, out: &mut Vec<u8>) {
        loop {
            let byte = (n & 0x7f) as u8;
            n >>= 7;
            if n == 0 {
                out.push(byte);
                return;
            }
            out.push(byte | 0x80);
        }
    }
    let mut payload = Vec::new();
    leb(name.len(), &mut payload);
    payload.extend_from_slice(name.as_bytes());
    let mut out = component.to_vec();
    out.push(0); // a custom section
    leb(payload.len(), &mut out);
    out.extend_from_slice(&payload);
    out
}

/// One call to each of `plugins`, in turn: the latency of a call while all are loaded.
async fn each_once(plugins: &[Plugin], exchange: &Exchange) -> Stats {
    let mut samples = Vec::with_capacity(plugins.len());
    for plugin in plugins {
        let input = exchange.clone();
        let started = Instant::now();
        plugin.process(input).await.unwrap();
        samples.push(started.elapsed());
    }
    Stats::of(&mut samples)
}

/// Thousands of endpoints: 1,000 of one component and 200 of distinct ones
/// (upper with a distinct custom section each, so each compiles): load time,
/// resident memory per idle endpoint and per warm instance, call latency with all loaded.
fn endpoints(rt: &tokio::runtime::Runtime, _: &Runtime, r: &mut Report) {
    const SHARED: usize = 1000;
    const DISTINCT: usize = 200;
    // Instance slots for every endpoint's warm instance (a Rust guest has a few core instances).
    let runtime = Runtime::builder().base_dir(DIST).max_instances(8192).memory_ceiling(16 << 20).build().unwrap();
    let small = limits("max-memory=16777216");
    let ex = Exchange::new("x".repeat(1024));
    r.text(String::new());
    r.text(format!("Endpoints (max-memory 16 MiB each): {SHARED} `wasm:upper.wasm` endpoints in one runtime, then {DISTINCT} endpoints of distinct components; 1 KiB text body:"));
    r.text(String::new());
    r.text("| scenario | median | p99 | p999 | samples | target |".into());
    r.text("|---|---|---|---|---|---|".into());
    rt.block_on(async {
        let first = Plugin::load(&runtime, "upper.wasm", small.clone()).unwrap();
        let alone = latency(&Target::Plugin(first.clone()), &ex, 500, 20000).await.unwrap();
        r.row("upper, reused instance, 1 endpoint loaded", alone, None);

        let before = resident_bytes();
        let started = Instant::now();
        let (shared, heap_grew) =
            heap::growth(|| (0..SHARED).map(|_| Plugin::load(&runtime, "upper.wasm", small.clone()).unwrap()).collect::<Vec<_>>());
        let load = started.elapsed();
        let idle = resident_bytes();
        let first_calls = each_once(&shared, &ex).await;
        let warm = resident_bytes();
        let reused_calls = each_once(&shared, &ex).await;
        let loaded = latency(&Target::Plugin(first.clone()), &ex, 500, 20000).await.unwrap();
        r.row(&format!("upper, reused instance, {SHARED} more endpoints loaded and warm"), loaded, None);
        r.row(&format!("first call of each of {SHARED} endpoints (makes its instance)"), first_calls, None);
        r.row(&format!("second call of each of {SHARED} endpoints, in turn"), reused_calls, None);
        let per_idle = idle.saturating_sub(before) as f64 / 1024.0 / SHARED as f64;
        let heap_per_idle = heap_grew / SHARED as isize;
        let per_warm = warm.saturating_sub(idle) as f64 / 1024.0 / SHARED as f64;
        // Resident memory moves in pages and allocator segments: judge by the larger of it and the heap's growth.
        let verdict = if per_idle.max(heap_per_idle as f64 / 1024.0) <= 64.0 { "≤ 64 KiB: met" } else { "≤ 64 KiB: MISSED" };
        r.text(String::new());
        r.text(format!(
            "{SHARED} endpoints of one component: loaded in {:.1} ms ({:.1} µs each); resident memory +{per_idle:.1} KiB per idle endpoint, \
             {heap_per_idle} B of heap ({verdict}), +{per_warm:.1} KiB per warm instance; call median with all loaded {} against {} alone",
            load.as_secs_f64() * 1e3,
            load.as_secs_f64() * 1e6 / SHARED as f64,
            micros(loaded.median),
            micros(alone.median),
        ));
        drop(shared);

        // The curve: one endpoint's reused call and the process's memory as warm endpoints are added.
        let mut curve = Vec::new();
        let mut more: Vec<Plugin> = Vec::new();
        for step in [0, 10, 100, 250, 500, 750, 1000] {
            while more.len() < step {
                let plugin = Plugin::load(&runtime, "upper.wasm", small.clone()).unwrap();
                plugin.process(ex.clone()).await.unwrap();
                more.push(plugin);
            }
            let stats = latency(&Target::Plugin(first.clone()), &ex, 200, 5000).await.unwrap();
            curve.push((step, stats.median.as_secs_f64() * 1e6, resident_bytes() as f64 / 1048576.0));
        }
        drop(more);
        charts::draw("endpoints.svg", charts::endpoint_scale("endpoints.svg", &curve));

        let dir = std::env::temp_dir().join(format!("camel-wasm-bench-endpoints-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let upper = std::fs::read(format!("{DIST}/upper.wasm")).unwrap();
        for i in 0..DISTINCT {
            std::fs::write(dir.join(format!("upper-{i}.wasm")), with_custom_section(&upper, &format!("camel-wasm-bench-{i}"))).unwrap();
        }
        let distinct_rt = Runtime::builder().base_dir(&dir).max_instances(8192).memory_ceiling(16 << 20).build().unwrap();
        let before = resident_bytes();
        let started = Instant::now();
        let distinct: Vec<Plugin> =
            (0..DISTINCT).map(|i| Plugin::load(&distinct_rt, &format!("upper-{i}.wasm"), small.clone()).unwrap()).collect();
        let load = started.elapsed();
        let idle = resident_bytes();
        let first_calls = each_once(&distinct, &ex).await;
        let warm = resident_bytes();
        let reused_calls = each_once(&distinct, &ex).await;
        r.text(String::new());
        r.text("| scenario | median | p99 | p999 | samples | target |".into());
        r.text("|---|---|---|---|---|---|".into());
        r.row(&format!("first call of each of {DISTINCT} distinct components"), first_calls, None);
        r.row(&format!("second call of each of {DISTINCT} distinct components, in turn"), reused_calls, None);
        r.text(String::new());
        r.text(format!(
            "{DISTINCT} distinct components: compiled and loaded in {:.2} s ({:.1} ms each); resident memory +{:.1} KiB per loaded \
             component (its compiled code), +{:.1} KiB per warm instance",
            load.as_secs_f64(),
            load.as_secs_f64() * 1e3 / DISTINCT as f64,
            idle.saturating_sub(before) as f64 / 1024.0 / DISTINCT as f64,
            warm.saturating_sub(idle) as f64 / 1024.0 / DISTINCT as f64,
        ));
        drop(distinct);
        let _ = std::fs::remove_dir_all(&dir);
    });
}

/// The `tiers` clauses of a `choice` of 8; an order with no tier and a large amount matches only the last.
const EIGHT: [&str; 8] = ["is-suspicious", "is-platinum", "is-gold", "is-silver", "is-bronze", "is-express", "is-eu", "is-big"];

/// rust-camel `simple` conditions comparable to the eight `tiers` clauses (on headers).
#[cfg(feature = "rust-camel")]
const SIMPLE_EIGHT: [&str; 8] = [
    "${header.tier} == 'none'",
    "${header.tier} == 'platinum'",
    "${header.tier} == 'gold'",
    "${header.tier} == 'silver'",
    "${header.tier} == 'bronze'",
    "${header.shipping} == 'express'",
    "${header.country} == 'DE'",
    "${header.amount} >= 1000",
];

/// The `wasm` language (`tiers`): a predicate, a group of 8 and an expression on a 1 KiB
/// exchange, through the Language API and through rust-camel, next to rust-camel's `simple`.
fn language(rt: &tokio::runtime::Runtime, runtime: &Runtime, r: &mut Report) {
    use target::Ask;
    r.text(String::new());
    r.text("Languages: a predicate, a `choice` of 8 and an expression on an exchange with a 1 KiB text body and `tier` / `amount` headers:".into());
    r.text(String::new());
    r.text("| scenario | median | p99 | p999 | samples | target |".into());
    r.text("|---|---|---|---|---|---|".into());
    rt.block_on(async {
        let tiers = Language::load(runtime, "tiers.wasm", Limits::default(), vec![]).await.unwrap();
        let gold = Exchange::new("x".repeat(1024)).with_header("tier", "gold").with_header("amount", 5000);
        let untiered = Exchange::new("x".repeat(1024)).with_header("amount", 5000);
        let is_gold = Target::Language(tiers.clone(), Ask::Matches("is-gold".into()));
        r.row("wasm predicate tiers#is-gold (Language API)", latency(&is_gold, &gold, 500, 20000).await.unwrap(), Some(1.5));
        let group = Target::Language(tiers.clone(), Ask::FirstMatch(tiers.group(&EIGHT).unwrap()));
        r.row(
            "wasm group of 8, the last matches (Language API, one call)",
            latency(&group, &untiered, 500, 20000).await.unwrap(),
            Some(2.5),
        );
        let discount = Target::Language(tiers.clone(), Ask::Evaluate("discount".into()));
        r.row("wasm expression tiers#discount (Language API)", latency(&discount, &gold, 500, 20000).await.unwrap(), None);
        #[cfg(feature = "rust-camel")]
        versus_simple(runtime, r).await;
    });
}

/// The same decisions as rust-camel language objects on a camel exchange: `wasm` and `simple`.
#[cfg(feature = "rust-camel")]
async fn versus_simple(runtime: &Runtime, r: &mut Report) {
    use camel_language_api::Language as _;
    let wasm = camel_wasm::camel::WasmLanguage::new(runtime.clone());
    let simple = camel_language_simple::SimpleLanguage::new();
    let exchange = |tier: Option<&str>| {
        let mut ex = camel_api::Exchange::new(camel_api::Message::new("x".repeat(1024)));
        if let Some(tier) = tier {
            ex.input.set_header("tier", tier);
        }
        ex.input.set_header("amount", 5000);
        ex
    };
    let (gold, untiered) = (exchange(Some("gold")), exchange(None));
    async fn timed<F: AsyncFn() -> bool>(f: F) -> Stats {
        for _ in 0..500 {
            f().await;
        }
        let mut samples = Vec::with_capacity(20000);
        for _ in 0..20000 {
            let started = Instant::now();
            std::hint::black_box(f().await);
            samples.push(started.elapsed());
        }
        Stats::of(&mut samples)
    }
    let w = wasm.create_predicate("tiers.wasm#is-gold").unwrap();
    let s = simple.create_predicate("${header.tier} == 'gold'").unwrap();
    assert!(w.matches(&gold).await.unwrap() && s.matches(&gold).await.unwrap());
    let (wasm_pred, simple_pred) =
        (timed(async || w.matches(&gold).await.unwrap()).await, timed(async || s.matches(&gold).await.unwrap()).await);
    r.row("rust-camel: wasm predicate tiers.wasm#is-gold", wasm_pred, None);
    r.row("rust-camel: simple predicate ${header.tier} == 'gold'", simple_pred, None);

    let scripts: Vec<String> = EIGHT.iter().map(|e| format!("tiers.wasm#{e}")).collect();
    let scripts: Vec<&str> = scripts.iter().map(String::as_str).collect();
    let group = wasm.create_predicate_group(&scripts).unwrap().expect("one endpoint: one group");
    assert_eq!(group.first_match(&untiered).await.unwrap(), Some(7));
    let wasm_group = timed(async || group.first_match(&untiered).await.unwrap().is_some()).await;
    r.row("rust-camel: wasm choice of 8, the last matches (one call)", wasm_group, None);
    // `simple` has no group: rust-camel evaluates its clauses one by one, as here.
    let clauses: Vec<_> = SIMPLE_EIGHT.iter().map(|c| simple.create_predicate(c).unwrap()).collect();
    let first = async || {
        for (i, clause) in clauses.iter().enumerate() {
            if clause.matches(&untiered).await.unwrap() {
                return Some(i);
            }
        }
        None
    };
    assert_eq!(first().await, Some(7));
    let simple_group = timed(async || first().await.is_some()).await;
    r.row("rust-camel: simple choice of 8, the last matches (clause by clause)", simple_group, None);

    let w = wasm.create_expression("tiers.wasm#tier").unwrap();
    let s = simple.create_expression("${header.tier}").unwrap();
    assert_eq!(w.evaluate(&gold).await.unwrap(), s.evaluate(&gold).await.unwrap());
    let wasm_expr = timed(async || !w.evaluate(&gold).await.unwrap().is_null()).await;
    let simple_expr = timed(async || !s.evaluate(&gold).await.unwrap().is_null()).await;
    r.row("rust-camel: wasm expression tiers.wasm#tier", wasm_expr, None);
    r.row("rust-camel: simple expression ${header.tier}", simple_expr, None);
    let us = |s: Stats| s.median.as_secs_f64() * 1e6;
    let bars = [
        ("predicate".to_string(), us(wasm_pred), us(simple_pred)),
        ("choice of 8, the last matches".to_string(), us(wasm_group), us(simple_group)),
        ("expression".to_string(), us(wasm_expr), us(simple_expr)),
    ];
    let title = "rust-camel languages, median per evaluation (1 KiB exchange)";
    charts::draw("language.svg", charts::versus("language.svg", title, "µs", &bars, ("wasm (tiers)", "simple")));
}

fn stream_of(total: usize, chunk: usize) -> Body {
    let buffer = Bytes::from(vec![b'x'; chunk]);
    let chunks = (0..total / chunk).map(move |_| Ok(buffer.clone()));
    Body::Stream(StreamBody::new(futures::stream::iter(chunks)).with_size_hint(total as u64))
}

/// Drains a returned stream body, counting its bytes.
async fn drain_count(body: &Body) -> usize {
    let mut chunks = body.as_stream().expect("a stream body").take().unwrap();
    let mut n = 0;
    while let Some(chunk) = chunks.next().await {
        n += chunk.unwrap().len();
    }
    n
}

/// One timed run: sends `make()` through `plugin`, drains a returned stream, checks `check`.
async fn stream_run(plugin: &Plugin, exchange: Exchange, check: impl Fn(&Exchange, usize)) -> Duration {
    let started = Instant::now();
    let out = plugin.process(exchange).await.unwrap();
    let drained = match out.input.body.as_stream() {
        Some(_) => drain_count(&out.input.body).await,
        None => 0,
    };
    let took = started.elapsed();
    check(&out, drained);
    took
}

/// Median and best of `rounds` runs, after one warm-up.
async fn stream_stats(rounds: usize, mut run: impl AsyncFnMut() -> Duration) -> (Duration, Duration) {
    run().await;
    let mut samples = Vec::new();
    for _ in 0..rounds {
        samples.push(run().await);
    }
    samples.sort();
    (samples[samples.len() / 2], samples[0])
}

fn gib_per_s(bytes: usize, took: Duration) -> f64 {
    bytes as f64 / took.as_secs_f64() / (1u64 << 30) as f64
}

/// Stream throughput: into the byte counter, stream-in/stream-out, and a returned stream drained.
fn streams(rt: &tokio::runtime::Runtime, runtime: &Runtime, r: &mut Report) {
    r.text(String::new());
    r.text(format!(
        "Streams: {} MiB per run through guests capped at max-memory 16 MiB (median and best of 7 runs)",
        STREAM_BYTES >> 20
    ));
    r.text(String::new());
    r.text("| scenario | median | best | median GiB/s | target |".into());
    r.text("|---|---|---|---|---|".into());
    let row = |r: &mut Report, what: &str, (median, best): (Duration, Duration), goal: f64| {
        let rate = gib_per_s(STREAM_BYTES, median);
        let verdict = if rate >= goal { format!("≥ {goal} GiB/s: met") } else { format!("≥ {goal} GiB/s: MISSED") };
        r.text(format!(
            "| {what} | {:.1} ms | {:.1} ms | {rate:.2} | {verdict} |",
            median.as_secs_f64() * 1e3,
            best.as_secs_f64() * 1e3
        ));
    };
    rt.block_on(async {
        let capped = "max-memory=16777216";
        let count = Plugin::load(runtime, "stream-count.wasm", limits(capped)).unwrap();
        for chunk in [64 * 1024, 4 * 1024] {
            let stats = stream_stats(7, async || {
                stream_run(&count, Exchange::new(stream_of(STREAM_BYTES, chunk)), |out, _| {
                    assert_eq!(out.input.body.as_text(), Some(STREAM_BYTES.to_string().as_str()));
                })
                .await
            })
            .await;
            row(r, &format!("stream in: byte counter (stream-count), {} KiB chunks", chunk / 1024), stats, 8.0);
        }
        let upper = Plugin::load(runtime, "stream-upper.wasm", limits(capped)).unwrap();
        let stats = stream_stats(7, async || {
            stream_run(&upper, Exchange::new(stream_of(STREAM_BYTES, 64 * 1024)), |_, drained| assert_eq!(drained, STREAM_BYTES))
                .await
        })
        .await;
        row(r, "stream in, stream out: upper-case transform (stream-upper), 64 KiB chunks", stats, 4.0);
        let generator = Plugin::load(runtime, "stream-gen.wasm", limits(capped)).unwrap();
        let stats = stream_stats(7, async || {
            let ex = Exchange::new("").with_header("x-stream-bytes", STREAM_BYTES).with_header("x-chunk-bytes", 262_144);
            stream_run(&generator, ex, |_, drained| assert_eq!(drained, STREAM_BYTES)).await
        })
        .await;
        row(r, "returned stream drained by the caller (stream-gen, 256 KiB writes)", stats, 4.0);
    });
}

/// Requests each source scenario sends.
const SOURCE_REQUESTS: usize = 20_000;
/// Concurrent HTTP clients.
const SOURCE_CLIENTS: usize = 32;

/// One POST on a new connection (`Connection: close`); the status code and the time it took.
async fn post_once(addr: std::net::SocketAddr, request: &[u8]) -> (u16, Duration) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let started = Instant::now();
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    stream.set_nodelay(true).unwrap();
    stream.write_all(request).await.unwrap();
    let mut response = Vec::with_capacity(256);
    stream.read_to_end(&mut response).await.unwrap();
    let code = std::str::from_utf8(&response[9..12.min(response.len())]).ok().and_then(|c| c.parse().ok()).unwrap_or(0);
    (code, started.elapsed())
}

/// `SOURCE_REQUESTS` POSTs of 256-byte bodies from `SOURCE_CLIENTS` clients, each on a new connection.
async fn load(addr: std::net::SocketAddr, path: &str) -> (f64, Stats, usize) {
    let body = "x".repeat(256);
    let request = format!(
        "POST {path} HTTP/1.1\r\nhost: bench\r\ncontent-type: text/plain\r\ncontent-length: 256\r\nconnection: close\r\n\r\n{body}"
    );
    let request: Arc<[u8]> = request.into_bytes().into();
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let started = Instant::now();
    let clients: Vec<_> = (0..SOURCE_CLIENTS)
        .map(|_| {
            let (request, next) = (request.clone(), next.clone());
            tokio::spawn(async move {
                let mut samples = Vec::new();
                let mut failed = 0;
                while next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) < SOURCE_REQUESTS {
                    let (code, took) = post_once(addr, &request).await;
                    if code == 202 { samples.push(took) } else { failed += 1 }
                }
                (samples, failed)
            })
        })
        .collect();
    let mut samples = Vec::new();
    let mut failed = 0;
    for client in clients {
        let (mut s, f) = client.await.unwrap();
        samples.append(&mut s);
        failed += f;
    }
    let rate = SOURCE_REQUESTS as f64 / started.elapsed().as_secs_f64();
    samples.sort();
    let stats = Stats::of(&mut samples);
    (rate, stats, failed)
}

/// Webhook sources under load: requests/s and p99 from 32 clients, a new connection per request.
fn sources(rt: &tokio::runtime::Runtime, runtime: &Runtime, r: &mut Report) {
    r.text(String::new());
    r.text(format!(
        "Sources: {SOURCE_REQUESTS} POSTs of 256-byte bodies from {SOURCE_CLIENTS} concurrent loopback clients, a new connection per request (`Connection: close`), answered 202"
    ));
    r.text(String::new());
    r.text("| source | requests/s | median | p99 | p999 | submitted / sent | target |".into());
    r.text("|---|---|---|---|---|---|---|".into());
    rt.block_on(async {
        for (guest, config, label) in [
            ("rc-webhook-source.wasm", vec![], "rust-camel's webhook example (sequential)"),
            ("concurrent-source.wasm", vec![("concurrency".to_string(), "32".to_string())], "concurrent-source, concurrent(32)"),
        ] {
            let options = camel_wasm::SourceOptions::public("127.0.0.1:0".parse().unwrap());
            let source = camel_wasm::Source::load(runtime, guest, Limits::default(), options).unwrap();
            let counted = Arc::new(std::sync::atomic::AtomicUsize::new(0));
            let count = counted.clone();
            let service = tower::service_fn(move |exchange: Exchange| {
                count.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                async move { Ok::<_, camel_wasm::BoxError>(exchange) }
            });
            let running = source.start(config, service).await.unwrap();
            let (rate, stats, failed) = load(running.local_addr(), "/hook").await;
            running.stop().await.unwrap();
            let submitted = counted.load(std::sync::atomic::Ordering::Relaxed);
            let verdict = if rate >= 10_000.0 && failed == 0 && submitted == SOURCE_REQUESTS {
                "≥ 10000/s, none lost: met".to_string()
            } else {
                format!("≥ 10000/s, none lost: MISSED ({failed} failed)")
            };
            r.text(format!(
                "| {label} | {rate:.0} | {} | {} | {} | {submitted} / {SOURCE_REQUESTS} | {verdict} |",
                micros(stats.median),
                micros(stats.p99),
                micros(stats.p999)
            ));
        }
    });
    edge_bench::keep_alive(rt, runtime, r);
}

/// `key=value` fields of a line.
fn fields(line: &str) -> std::collections::HashMap<&str, &str> {
    line.split_whitespace().filter_map(|f| f.split_once('=')).collect()
}

/// Our CLI as a command, its compile cache in the bench's own directory.
fn our_cli() -> std::process::Command {
    let mut cli = std::process::Command::new(env!("CARGO_BIN_EXE_camel-wasm"));
    cli.env("CAMEL_WASM_CACHE_DIR", std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("cli-cache"));
    cli
}

/// One `camel-wasm bench --stream-bytes` run of our CLI in its own process: (median ms, peak resident MiB).
fn ours_streaming(guest: &str, chunk: usize) -> Option<(f64, f64)> {
    let out = our_cli()
        .args(["bench", guest, "--stream-bytes", &STREAM_BYTES.to_string(), "--chunk-bytes", &chunk.to_string()])
        .args(["--max-memory", "16777216", "--calls", "7"])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let median =
        text.lines().find(|l| l.starts_with("round time:"))?.split("median ").nth(1)?.split(" ms").next()?.parse().ok()?;
    let peak = text
        .lines()
        .find(|l| l.starts_with("peak resident memory:"))?
        .split(':')
        .nth(1)?
        .trim()
        .trim_end_matches(" MiB")
        .parse()
        .ok()?;
    Some((median, peak))
}

/// rust-camel 0.64 streaming its own byte-counting guest, and this host on the very same file, in this run.
///
/// rust-camel 0.64 needs wasmtime 49 (rustc 1.96): `benches/rust-camel/run.sh`
/// builds it with Debian's rustc-web and builds the guest without the
/// `wasi:filesystem` import rust-camel refuses.
fn versus_rust_camel(r: &mut Report) {
    r.text(String::new());
    r.text(format!("Against rust-camel 0.64, same run, same guest file (rust-camel's count-a-stream plugin, 4 KiB reads), {} MiB, max-memory 16 MiB, each host in its own process:", STREAM_BYTES >> 20));
    r.text(String::new());
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/rust-camel/run.sh");
    let run = std::process::Command::new("bash").arg(script).output();
    let text = match &run {
        Ok(out) if out.status.success() => String::from_utf8_lossy(&out.stdout).to_string(),
        Ok(out) => {
            r.text(format!(
                "rust-camel 0.64 not measured: {}",
                String::from_utf8_lossy(&out.stderr).lines().last().unwrap_or("run.sh failed")
            ));
            return;
        }
        Err(e) => {
            r.text(format!("rust-camel 0.64 not measured: {e}"));
            return;
        }
    };
    let guest = concat!(env!("CARGO_MANIFEST_DIR"), "/target/rust-camel-bench/dist/rc-count-stream.wasm");
    r.text("| scenario | rust-camel 0.64 | camel-wasm | camel-wasm vs rust-camel |".into());
    r.text("|---|---|---|---|".into());
    let mut bars = Vec::new();
    for line in text.lines().filter(|l| l.starts_with("rust-camel 0.64 stream-in:")) {
        let f = fields(line);
        let (Some(chunk), Some(theirs_ms), Some(theirs_rss)) = (
            f.get("chunk").and_then(|c| c.parse::<usize>().ok()),
            f.get("median_ms").and_then(|m| m.parse::<f64>().ok()),
            f.get("peak_rss_mib").and_then(|m| m.parse::<f64>().ok()),
        ) else {
            continue;
        };
        let Some((ours_ms, ours_rss)) = ours_streaming(guest, chunk) else {
            r.text(format!("| stream in, {} KiB chunks | {theirs_ms:.1} ms | not measured | |", chunk / 1024));
            continue;
        };
        let rate = |ms: f64| STREAM_BYTES as f64 / (ms / 1e3) / (1u64 << 30) as f64;
        bars.push((format!("stream in, {} KiB chunks", chunk / 1024), ours_ms, theirs_ms));
        r.text(format!(
            "| stream in, {} KiB chunks: median time, peak resident | {theirs_ms:.1} ms ({:.1} GiB/s), {theirs_rss:.1} MiB | {ours_ms:.1} ms ({:.1} GiB/s), {ours_rss:.1} MiB | {:.2}× the speed |",
            chunk / 1024,
            rate(theirs_ms),
            rate(ours_ms),
            theirs_ms / ours_ms
        ));
    }
    // One call of `upper` (1 KiB): rust-camel makes a fresh store and instance per exchange (its design);
    // this host on the very same file, reused and with `isolation=per-call`, each in its own process.
    let upper = concat!(env!("CARGO_MANIFEST_DIR"), "/target/rust-camel-bench/dist/upper.wasm");
    let mut call_bars = Vec::new();
    for line in text.lines().filter(|l| l.starts_with("rust-camel 0.64 call:")) {
        let f = fields(line);
        let (Some(theirs), Some(theirs_p99)) =
            (f.get("median_us").and_then(|m| m.parse::<f64>().ok()), f.get("p99_us").and_then(|m| m.parse::<f64>().ok()))
        else {
            continue;
        };
        for isolation in ["reuse", "per-call"] {
            let label = format!("one call, upper 1 KiB, isolation={isolation}: median / p99");
            let Some((ours, ours_p99)) = ours_call(upper, isolation) else {
                r.text(format!("| {label} | {theirs:.1} µs / {theirs_p99:.1} µs | not measured | |"));
                continue;
            };
            call_bars.push((format!("upper 1 KiB, isolation={isolation}"), ours, theirs));
            r.text(format!(
                "| {label} | {theirs:.1} µs / {theirs_p99:.1} µs (fresh instance per call) | {ours:.2} µs / {ours_p99:.2} µs | {:.1}× faster |",
                theirs / ours
            ));
        }
    }
    for line in text.lines().filter(|l| l.starts_with("rust-camel 0.64 return-stream:")) {
        r.text(format!("| {} | | | |", line.trim_start_matches("rust-camel 0.64 ")));
    }
    if !bars.is_empty() {
        let title = format!("{} MiB through rust-camel's count-a-stream guest, median time", STREAM_BYTES >> 20);
        charts::draw("versus.svg", charts::versus("versus.svg", &title, "ms", &bars, ("camel-wasm", "rust-camel 0.64")));
    }
    if !call_bars.is_empty() {
        let title = "one call of rust-camel's build of upper.wasm, 1 KiB text, median";
        charts::draw(
            "versus-call.svg",
            charts::versus("versus-call.svg", title, "µs", &call_bars, ("camel-wasm", "rust-camel 0.64")),
        );
    }
}

/// One `camel-wasm bench` run of our CLI on `guest` (1 KiB text body) in its own process: (median µs, p99 µs).
fn ours_call(guest: &str, isolation: &str) -> Option<(f64, f64)> {
    let out =
        our_cli().args(["bench", guest, "--body-size", "1024", "--calls", "20000", "--isolation", isolation]).output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().find(|l| l.starts_with("latency over"))?;
    let value = |key: &str| line.split(key).nth(1)?.split(" µs").next()?.trim().parse().ok();
    Some((value("median ")?, value("p99 ")?))
}
