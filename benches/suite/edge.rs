//! The source edge under keep-alive load: `wrk` (a C load generator, not the
//! bottleneck) drives 32 persistent connections for a few seconds, plain, with
//! JWT authentication, over TLS, and both; for rust-camel's webhook guest and
//! for `concurrent(32)`. Requests/s, p99, what was lost, the load generator's
//! CPU and this process's resident memory.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use camel_wasm::{Exchange, Limits, Runtime, Source, SourceOptions};

use crate::Report;
use crate::edge as keys;
use crate::measure::resident_bytes;

/// Seconds each wrk run lasts.
const SECONDS: u64 = 4;
/// Runs per row; the row is the run of median rate.
const RUNS: usize = 3;
/// Persistent connections.
const CONNECTIONS: usize = 32;

/// CPU seconds (user + system) used by reaped children so far.
fn children_cpu() -> f64 {
    // SAFETY: getrusage only writes the struct it is given.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    secs(usage.ru_utime) + secs(usage.ru_stime)
}

/// A wrk run's requests/s, p99 (ms), requests, non-2xx responses and errors, and the CPU cores it took.
struct Run {
    rate: f64,
    p99_ms: f64,
    requests: u64,
    bad: u64,
    cores: f64,
}

fn wrk(url: &str, token: Option<&str>, script: &std::path::Path) -> Result<Run, String> {
    let before = children_cpu();
    let mut command = std::process::Command::new("wrk");
    command.args(["-t", "2", "-c", &CONNECTIONS.to_string(), "-d", &format!("{SECONDS}s"), "--latency", "-s"]).arg(script);
    if let Some(token) = token {
        command.args(["-H", &format!("Authorization: Bearer {token}")]);
    }
    let out = command.arg(url).output().map_err(|e| format!("wrk: {e}"))?;
    let cores = (children_cpu() - before) / SECONDS as f64;
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let number = |prefix: &str| text.lines().find_map(|l| l.trim().strip_prefix(prefix)).map(|v| v.trim().to_string());
    let rate = number("Requests/sec:").and_then(|v| v.parse().ok()).ok_or_else(|| format!("no rate in wrk's output: {text}"))?;
    let p99 = number("99%").map(|v| millis(&v)).unwrap_or(f64::NAN);
    let requests =
        text.lines().find(|l| l.contains(" requests in ")).and_then(|l| l.split_whitespace().next()?.parse().ok()).unwrap_or(0);
    let bad = number("Non-2xx or 3xx responses:").and_then(|v| v.parse().ok()).unwrap_or(0)
        + number("Socket errors:")
            .map(|v| v.split(',').filter_map(|f| f.split_whitespace().last()?.parse::<u64>().ok()).sum())
            .unwrap_or(0);
    Ok(Run { rate, p99_ms: p99, requests, bad, cores })
}

/// wrk's `1.23ms`, `456.00us`, `1.10s` in milliseconds.
fn millis(value: &str) -> f64 {
    let (number, unit) = value.split_at(value.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(value.len()));
    let n: f64 = number.parse().unwrap_or(f64::NAN);
    match unit {
        "us" => n / 1e3,
        "s" => n * 1e3,
        _ => n,
    }
}

/// The keep-alive table.
pub fn keep_alive(rt: &tokio::runtime::Runtime, runtime: &Runtime, r: &mut Report) {
    r.text(String::new());
    r.text(format!(
        "Sources, keep-alive: wrk -t2 -c{CONNECTIONS} -d{SECONDS}s, {RUNS} runs a row (the median one shown; lost counted over all), 256-byte POSTs over persistent connections, answered 202; JWT: RS256 from a JWKS file, auth-cache-ttl 30 s; TLS: rustls, a certificate made at run time"
    ));
    r.text(String::new());
    if std::process::Command::new("wrk").arg("--version").output().is_err() {
        r.text("not measured: wrk is not installed (scripts/ensure-wrk.sh installs it as root)".into());
        return;
    }
    let dir = std::env::temp_dir().join(format!("camel-wasm-bench-edge-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let script = dir.join("post.lua");
    std::fs::write(
        &script,
        format!("wrk.method = \"POST\"\nwrk.body = \"{}\"\nwrk.headers[\"Content-Type\"] = \"text/plain\"\n", "x".repeat(256)),
    )
    .unwrap();
    let jwks = dir.join("jwks.json");
    std::fs::write(&jwks, keys::key().jwks.to_string()).unwrap();
    let certificate = keys::Certificate::new();
    let token = keys::token("bench", &[]);
    r.text(
        "| source | transport | requests/s | p99 | lost (non-2xx, errors, unsubmitted) | wrk's CPU | resident after | target |"
            .into(),
    );
    r.text("|---|---|---|---|---|---|---|---|".into());
    let mut plain_rates = Vec::new();
    for (guest, config, label) in [
        ("rc-webhook-source.wasm", vec![], "rust-camel's webhook (sequential)"),
        ("concurrent-source.wasm", vec![("concurrency".to_string(), "32".to_string())], "concurrent(32)"),
    ] {
        let mut plain = None;
        for (auth, tls) in [(false, false), (true, false), (false, true), (true, true)] {
            let mut query = String::from("bind=127.0.0.1:0&max-connections=256");
            if auth {
                query += &format!(
                    "&auth=jwt&auth-jwks={}&auth-issuer={}&auth-audience={}",
                    jwks.display(),
                    keys::ISSUER,
                    keys::AUDIENCE
                );
            } else {
                query += "&auth=none";
            }
            if tls {
                query += &format!("&tls-cert={}&tls-key={}", certificate.cert.display(), certificate.key.display());
            }
            let (_, options) = SourceOptions::parse_uri(&format!("wasm:{guest}?{query}"), Limits::default()).unwrap();
            let counted = Arc::new(AtomicUsize::new(0));
            let count = counted.clone();
            let service = tower::service_fn(move |exchange: Exchange| {
                count.fetch_add(1, Ordering::Relaxed);
                async move { Ok::<_, camel_wasm::BoxError>(exchange) }
            });
            let running = rt.block_on(async {
                let source = Source::load(runtime, guest, Limits::default(), options).unwrap();
                source.start(config.clone(), service).await.unwrap()
            });
            let scheme = if tls { "https" } else { "http" };
            let url = format!("{scheme}://{}/hook", running.local_addr());
            let mut runs = Vec::new();
            let mut failure = None;
            for _ in 0..RUNS {
                match wrk(&url, auth.then_some(token.as_str()), &script) {
                    Ok(run) => runs.push(run),
                    Err(e) => failure = Some(e),
                }
            }
            let (requests, bad) = (runs.iter().map(|r| r.requests).sum::<u64>(), runs.iter().map(|r| r.bad).sum::<u64>());
            runs.sort_by(|a, b| a.rate.total_cmp(&b.rate));
            let run = match (runs.len(), failure) {
                (RUNS, _) => Ok(Run { requests, bad, ..runs.swap_remove(RUNS / 2) }),
                (_, Some(e)) => Err(e),
                _ => Err("wrk failed".to_string()),
            };
            rt.block_on(running.stop()).unwrap();
            let transport = match (auth, tls) {
                (false, false) => "plain",
                (true, false) => "JWT",
                (false, true) => "TLS",
                (true, true) => "JWT + TLS",
            };
            let submitted = counted.load(Ordering::Relaxed) as u64;
            match run {
                Ok(run) => {
                    // wrk stops mid-request at the end: those few are cut, not lost.
                    let unsubmitted = run.requests.saturating_sub(submitted);
                    let target = match (auth, tls) {
                        (false, false) => {
                            plain = Some(run.rate);
                            plain_rates.push(run.rate);
                            format!("≥ 40000/s: {}", if run.rate >= 40_000.0 { "met" } else { "MISSED" })
                        }
                        (true, false) => {
                            let cost = plain.map_or(f64::NAN, |p| (1.0 - run.rate / p) * 100.0);
                            format!("auth ≤ 10 %: {cost:.1} % {}", if cost <= 10.0 { "met" } else { "MISSED" })
                        }
                        _ => String::new(),
                    };
                    r.text(format!(
                        "| {label} | {transport} | {:.0} | {:.2} ms | {} non-2xx/errors, {unsubmitted} unsubmitted | {:.2} cores | {:.0} MiB | {target} |",
                        run.rate,
                        run.p99_ms,
                        run.bad,
                        run.cores,
                        resident_bytes() as f64 / (1 << 20) as f64
                    ));
                }
                Err(e) => r.text(format!("| {label} | {transport} | not measured: {e} | | | | | |")),
            }
        }
    }
    if let [sequential, concurrent] = plain_rates[..] {
        let verdict = if concurrent >= sequential { "met" } else { "MISSED" };
        r.text(String::new());
        r.text(format!("concurrent(32) against sequential, plain keep-alive: {concurrent:.0} vs {sequential:.0} requests/s (at least as fast: {verdict})"));
    }
    let _ = std::fs::remove_dir_all(&dir);
}
