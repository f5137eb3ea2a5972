//! `camel-wasm bench --duration SECS [--watch]`: call a guest continuously
//! from N tasks for a while, optionally reloading its file as it changes, and
//! count the calls that succeeded and failed, and the reloads.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use camel_wasm::Exchange;

use crate::args::TargetArgs;

/// Longest run accepted, so a typo cannot start a run of years.
const MAX_SECONDS: f64 = 7.0 * 24.0 * 3600.0;

/// Loads the guest, watches its file if `watch`, and calls it from
/// `concurrency` tasks for `seconds`; prints
/// `calls: N ok, M failed; reloads: R (F failed)`. Fails if any call failed.
pub async fn run(
    target_args: &TargetArgs,
    seconds: f64,
    concurrency: usize,
    body_size: usize,
    headers: BTreeMap<String, Value>,
    watch: bool,
) -> Result<(), String> {
    if !(seconds > 0.0 && seconds <= MAX_SECONDS) {
        return Err(format!("--duration must be greater than 0 and at most {MAX_SECONDS} seconds"));
    }
    if concurrency == 0 {
        return Err("--concurrency must be greater than zero".into());
    }
    let (runtime, target, name) = target_args.load_in(false).await?;
    let _watcher = match watch {
        true => Some(runtime.watch([name.as_str()]).map_err(|e| format!("--watch: {e}"))?),
        false => None,
    };
    let mut exchange = Exchange::new("x".repeat(body_size));
    exchange.input.headers = headers;
    let ok = Arc::new(AtomicU64::new(0));
    let latencies = Arc::new(crate::measure::Histogram::default());
    let failed = Arc::new(AtomicU64::new(0));
    let first_error = Arc::new(Mutex::new(None::<String>));
    let doing = if watch { "watching" } else { "calling" };
    println!("{doing} {} for {seconds} s with {concurrency} caller(s)", target_args.file);
    let started = Instant::now();
    let deadline = started + Duration::from_secs_f64(seconds);
    let callers: Vec<_> = (0..concurrency)
        .map(|_| {
            let (target, exchange) = (target.clone(), exchange.clone());
            let (ok, failed, first_error) = (ok.clone(), failed.clone(), first_error.clone());
            let latencies = latencies.clone();
            tokio::spawn(async move {
                // Each call is bounded by the guest's timeout; the deadline is checked between calls.
                while Instant::now() < deadline {
                    let input = exchange.clone();
                    let call_started = Instant::now();
                    let outcome = target.run(input).await;
                    latencies.record(call_started.elapsed());
                    match outcome {
                        Ok(_) => ok.fetch_add(1, Ordering::Relaxed),
                        Err(e) => {
                            first_error.lock().unwrap().get_or_insert_with(|| e.to_string());
                            failed.fetch_add(1, Ordering::Relaxed)
                        }
                    };
                }
            })
        })
        .collect();
    for caller in callers {
        caller.await.map_err(|e| format!("a caller task failed: {e}"))?;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let (ok, failed) = (ok.load(Ordering::Relaxed), failed.load(Ordering::Relaxed));
    let reloads = runtime.reload_stats();
    println!("{name}: world {}, {:.0} calls/s over {elapsed:.2} s", target.world(), (ok + failed) as f64 / elapsed);
    println!("calls: {ok} ok, {failed} failed; reloads: {} ({} failed)", reloads.succeeded, reloads.failed);
    if let Some(stats) = latencies.stats() {
        println!("latency over {} calls: {} (2 % buckets)", stats.count, stats.summary());
    }
    match first_error.lock().unwrap().take() {
        Some(error) => Err(format!("{failed} call(s) failed; the first: {error}")),
        None => Ok(()),
    }
}
