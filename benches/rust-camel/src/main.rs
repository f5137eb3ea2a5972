//! Bench of rust-camel 0.64's own `camel-component-wasm` (wasmtime 49), run
//! against the same guests as our `just bench`, so both stacks are measured
//! in the same run on the same machine.
//!
//! What it drives is rust-camel's public API only, along the same path a route
//! step `to("wasm:...")` takes: `WasmComponent::create_endpoint` (URI parsing,
//! path validation, `?max-memory=` / `?max-stream-bytes=` knobs) then
//! `Endpoint::create_producer`, whose `BoxProcessor` (tower service) is called
//! directly — no `CamelContext`/route pipeline around it, so nothing but
//! rust-camel's WASM component is timed. Each call is one exchange, which
//! rust-camel runs in a fresh `Store` + instance (its design).
//!
//! Measurements (one line each, machine-readable `key=value`):
//! - `stream-in`: `--bytes` bytes as a `Body::Stream` (a futures stream
//!   yielding one static `Bytes` chunk of `--chunk` bytes, cloned — refcount
//!   only — repeatedly) into the byte-counting guest (`rc-count-stream.wasm`,
//!   a port of rust-camel's `examples/wasm-streaming-plugin` guest), whose
//!   reply `streamed N bytes` is checked against `--bytes`. Median and best
//!   wall time over `--rounds` calls after one warm-up; `peak_rss_mib` is
//!   /proc/self/status VmHWM (getrusage ru_maxrss elsewhere) taken right after these rounds.
//! - `return-stream` (unless `--no-extras`): per-call latency of a guest that
//!   RETURNS a stream, drained by the caller: the same plugin guest's
//!   `emit-return-stream` mode (80 bytes in 10 writes) through the producer,
//!   and rust-camel's bean `emit_stream` (`rc-emit-stream.wasm`, 25 bytes in
//!   5 writes) through `camel_component_wasm::bean::WasmBean`. Both upstream
//!   guests emit fixed tiny streams, so this is a latency figure, not a
//!   throughput one.
//! - `call` (unless `--no-extras`): per-call latency of a non-stream call,
//!   `upper.wasm` with a 1 KiB text body.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use camel_api::{Body, Exchange, Message, StreamBody, StreamMetadata};
use camel_bean::BeanProcessor;
use camel_component_api::{
    BoxProcessor, Component, ComponentContext, NoOpComponentContext, ProducerContext,
};
use camel_component_wasm::bean::WasmBean;
use camel_component_wasm::{WasmComponent, WasmConfig};
use futures::StreamExt;
use tower::ServiceExt;

const LABEL: &str = "rust-camel 0.64";

struct Args {
    guest: PathBuf,
    upper: Option<PathBuf>,
    emit: Option<PathBuf>,
    bytes: u64,
    chunk: usize,
    rounds: usize,
    max_memory: u64,
    calls: usize,
    extras: bool,
}

fn usage() -> ! {
    eprintln!(
        "usage: rust-camel-bench [--guest PATH] [--bytes N] [--chunk N] [--rounds R] \
         [--max-memory BYTES] [--calls N] [--upper PATH] [--emit PATH] [--no-extras]\n\
         defaults: --guest <manifest>/../../guests/dist/rc-count-stream.wasm --bytes 268435456 \
         --chunk 65536 --rounds 5 --max-memory 16777216 --calls 2000;\n\
         --upper / --emit default to upper.wasm / rc-emit-stream.wasm next to --guest."
    );
    std::process::exit(2)
}

fn parse_args() -> Args {
    let dist = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../guests/dist");
    let mut a = Args {
        guest: dist.join("rc-count-stream.wasm"),
        upper: None,
        emit: None,
        bytes: 268_435_456,
        chunk: 65_536,
        rounds: 5,
        max_memory: 16_777_216,
        calls: 2000,
        extras: true,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut val = || it.next().unwrap_or_else(|| usage());
        fn num<T: std::str::FromStr>(s: String) -> T {
            s.parse().unwrap_or_else(|_| usage())
        }
        match flag.as_str() {
            "--guest" => a.guest = PathBuf::from(val()),
            "--upper" => a.upper = Some(PathBuf::from(val())),
            "--emit" => a.emit = Some(PathBuf::from(val())),
            "--bytes" => a.bytes = num(val()),
            "--chunk" => a.chunk = num(val()),
            "--rounds" => a.rounds = num(val()),
            "--max-memory" => a.max_memory = num(val()),
            "--calls" => a.calls = num(val()),
            "--no-extras" => a.extras = false,
            "-h" | "--help" => usage(),
            _ => {
                eprintln!("unknown argument: {flag}");
                usage()
            }
        }
    }
    if a.chunk == 0 || a.rounds == 0 || a.calls == 0 {
        usage()
    }
    a
}

/// Exit with the error rust-camel returned for `guest`, explaining the one
/// failure that is expected: rust-camel 0.64 links no `wasi:filesystem`
/// (ADR-0050 denial boundary), so a component importing it (any guest built
/// against a WASI preview-1 libc through the preview-1 adapter, as
/// guests/build.sh's Debian fallback does) cannot be instantiated at all.
fn fail(guest: &Path, e: impl std::fmt::Display) -> ! {
    eprintln!("rust-camel-bench: {}: {e}", guest.display());
    if e.to_string().contains("wasi:filesystem") {
        eprintln!(
            "  rust-camel 0.64 does not link wasi:filesystem, so it cannot instantiate this \
             component. Use a build without it: benches/rust-camel/run.sh builds one \
             (same sources, -Cpanic=immediate-abort) into target/rust-camel-bench/dist/."
        );
    }
    std::process::exit(1)
}

fn peak_rss_mib() -> f64 {
    // This address space's high-water mark (the same measure as camel-wasm's CLI).
    if let Some(kib) = std::fs::read_to_string("/proc/self/status").ok().and_then(|status| {
        status.lines().find(|l| l.starts_with("VmHWM:"))?.split_whitespace().nth(1)?.parse::<f64>().ok()
    }) {
        return kib / 1024.0;
    }
    // SAFETY: getrusage only writes into the zeroed struct we pass.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    ru.ru_maxrss as f64 / 1024.0 // Linux: KiB
}

fn median(v: &mut [Duration]) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn pct(v: &[Duration], p: f64) -> Duration {
    // v sorted
    let i = ((v.len() as f64 * p).ceil() as usize).clamp(1, v.len()) - 1;
    v[i]
}

/// A `wasm:` producer built by rust-camel's own component, exactly as a route
/// step would get it. rust-camel requires a relative module path under the
/// component's base directory, so the base directory is the guest's folder.
fn producer(ctx: &Arc<NoOpComponentContext>, guest: &Path, query: &str) -> BoxProcessor {
    let guest = guest
        .canonicalize()
        .unwrap_or_else(|e| fail(guest, e));
    let base = guest.parent().expect("guest has a parent dir").to_path_buf();
    let file = guest.file_name().expect("guest file name").to_string_lossy().into_owned();
    let registry: Arc<dyn ComponentContext> = ctx.clone();
    let component = WasmComponent::new(registry, base);
    let uri = format!("wasm:{file}?{query}");
    let endpoint = component
        .create_endpoint(&uri, ctx.as_ref())
        .unwrap_or_else(|e| fail(&guest, format!("create_endpoint({uri}): {e}")));
    endpoint
        .create_producer(ctx.clone(), &ProducerContext::new())
        .unwrap_or_else(|e| fail(&guest, format!("create_producer({uri}): {e}")))
}

fn stream_body(total: u64, chunk: usize, size_hint: Option<u64>) -> Body {
    let piece = Bytes::from(vec![0x5a_u8; chunk]);
    let full = total / chunk as u64;
    let tail = (total % chunk as u64) as usize;
    let tail_piece = piece.slice(..tail);
    let s = futures::stream::iter((0..full).map({
        let piece = piece.clone();
        move |_| Ok(piece.clone())
    }))
    .chain(futures::stream::iter((tail > 0).then(|| Ok(tail_piece))));
    Body::Stream(StreamBody {
        stream: Arc::new(tokio::sync::Mutex::new(Some(Box::pin(s)))),
        metadata: StreamMetadata {
            size_hint,
            content_type: Some("application/octet-stream".into()),
            origin: None,
        },
    })
}

/// The reply body: the output message's if the guest set one, else the input's.
fn reply(ex: &Exchange) -> &Body {
    ex.output.as_ref().map(|m| &m.body).unwrap_or(&ex.input.body)
}

fn text(body: &Body) -> Option<&str> {
    match body {
        Body::Text(s) => Some(s),
        _ => None,
    }
}

async fn drain(body: Body) -> Vec<u8> {
    let Body::Stream(sb) = body else {
        panic!("expected a Body::Stream reply, got {body:?}")
    };
    let mut s = sb.stream.lock().await.take().expect("reply stream not yet consumed");
    let mut out = Vec::new();
    while let Some(c) = s.next().await {
        out.extend_from_slice(&c.expect("reply stream chunk"));
    }
    out
}

async fn stream_in(ctx: &Arc<NoOpComponentContext>, a: &Args) {
    // max-stream-bytes: rust-camel caps every input stream at
    // DEFAULT_MATERIALIZE_LIMIT (10 MiB) unless raised per endpoint.
    let p = producer(
        ctx,
        &a.guest,
        &format!("max-memory={}&max-stream-bytes={}", a.max_memory, a.bytes),
    );
    let want = format!("streamed {} bytes", a.bytes);
    let mut times = Vec::with_capacity(a.rounds);
    for round in 0..=a.rounds {
        let ex = Exchange::new(Message::new(stream_body(a.bytes, a.chunk, Some(a.bytes))));
        let t = Instant::now();
        let out = p.clone().oneshot(ex).await.unwrap_or_else(|e| fail(&a.guest, e));
        let dt = t.elapsed();
        let got = text(reply(&out));
        assert_eq!(got, Some(want.as_str()), "guest reply (round {round})");
        if round > 0 {
            times.push(dt); // round 0 is the warm-up (includes compile + init)
        }
    }
    let rss = peak_rss_mib();
    let med = median(&mut times);
    let best = times[0];
    let gib = a.bytes as f64 / (1u64 << 30) as f64 / med.as_secs_f64();
    println!(
        "{LABEL} stream-in: bytes={} chunk={} median_ms={:.1} best_ms={:.1} gib_per_s={:.2} peak_rss_mib={:.1} rounds={} max_memory={}",
        a.bytes,
        a.chunk,
        med.as_secs_f64() * 1e3,
        best.as_secs_f64() * 1e3,
        gib,
        rss,
        a.rounds,
        a.max_memory,
    );
}

fn latency_line(what: &str, detail: &str, mut v: Vec<Duration>) {
    let med = median(&mut v);
    println!(
        "{LABEL} {what}: {detail} calls={} median_us={:.1} p99_us={:.1}",
        v.len(),
        med.as_secs_f64() * 1e6,
        pct(&v, 0.99).as_secs_f64() * 1e6,
    );
}

async fn return_stream_plugin(ctx: &Arc<NoOpComponentContext>, a: &Args) {
    let p = producer(ctx, &a.guest, &format!("max-memory={}", a.max_memory));
    let want: Vec<u8> = (0..10).flat_map(|i| format!("chunk-{i}\n").into_bytes()).collect();
    let n = a.calls / 4;
    let mut v = Vec::with_capacity(n);
    for i in 0..n + 20 {
        let ex = Exchange::new(Message::new(Body::Text("emit-return-stream".into())));
        let t = Instant::now();
        let mut out = p.clone().oneshot(ex).await.unwrap_or_else(|e| fail(&a.guest, e));
        let body = std::mem::take(&mut out.output.as_mut().expect("output message").body);
        let got = drain(body).await;
        let dt = t.elapsed();
        assert_eq!(got, want, "rc-count-stream emit-return-stream bytes");
        if i >= 20 {
            v.push(dt);
        }
    }
    latency_line(
        "return-stream",
        &format!("guest=rc-count-stream mode=emit-return-stream bytes={} writes=10", want.len()),
        v,
    );
}

async fn return_stream_bean(ctx: &Arc<NoOpComponentContext>, a: &Args, emit: &Path) {
    let cfg = WasmConfig { max_memory_bytes: a.max_memory, ..WasmConfig::default() };
    let registry: Arc<dyn ComponentContext> = ctx.clone();
    let bean = WasmBean::new(emit, cfg, registry, HashMap::new())
        .await
        .unwrap_or_else(|e| fail(emit, e));
    let want = b"data\n".repeat(5);
    let n = a.calls / 4;
    let mut v = Vec::with_capacity(n);
    for i in 0..n + 20 {
        let mut ex = Exchange::new(Message::new(Body::Empty));
        let t = Instant::now();
        bean.call("emit_stream", &mut ex)
            .await
            .unwrap_or_else(|e| fail(emit, e));
        let got = drain(std::mem::take(&mut ex.input.body)).await;
        let dt = t.elapsed();
        assert_eq!(got, want, "rc-emit-stream emit_stream bytes");
        if i >= 20 {
            v.push(dt);
        }
    }
    latency_line(
        "return-stream",
        &format!("guest=rc-emit-stream bean_method=emit_stream bytes={} writes=5", want.len()),
        v,
    );
}

async fn call_latency(ctx: &Arc<NoOpComponentContext>, a: &Args, upper: &Path) {
    let p = producer(ctx, upper, &format!("max-memory={}", a.max_memory));
    let input: String = "abcdefghijklmnop".repeat(64); // 1 KiB
    let want = input.to_uppercase();
    let mut v = Vec::with_capacity(a.calls);
    for i in 0..a.calls + 50 {
        let ex = Exchange::new(Message::new(Body::Text(input.clone())));
        let t = Instant::now();
        let out = p.clone().oneshot(ex).await.unwrap_or_else(|e| fail(upper, e));
        let dt = t.elapsed();
        assert_eq!(text(reply(&out)), Some(want.as_str()), "upper reply");
        if i >= 50 {
            v.push(dt);
        }
    }
    latency_line("call", &format!("guest=upper body_bytes={}", input.len()), v);
}

#[tokio::main]
async fn main() {
    let a = parse_args();
    let ctx = Arc::new(NoOpComponentContext);
    stream_in(&ctx, &a).await;
    if a.extras {
        let dir = a.guest.parent().map(Path::to_path_buf).unwrap_or_default();
        let emit = a.emit.clone().unwrap_or_else(|| dir.join("rc-emit-stream.wasm"));
        let upper = a.upper.clone().unwrap_or_else(|| dir.join("upper.wasm"));
        return_stream_plugin(&ctx, &a).await;
        return_stream_bean(&ctx, &a, &emit).await;
        call_latency(&ctx, &a, &upper).await;
    }
}
