//! Latency and throughput measurement of any guest, shared by `camel-wasm bench`
//! and the `just bench` suite.

use std::time::{Duration, Instant};

use camel_wasm::{Exchange, WasmError};

use crate::target::Target;

/// Order statistics of a set of durations.
#[derive(Debug, Clone, Copy)]
pub struct Stats {
    /// Number of samples.
    pub count: usize,
    /// Median.
    pub median: Duration,
    /// 99th percentile.
    pub p99: Duration,
}

impl Stats {
    /// Statistics of `samples` (sorted in place).
    pub fn of(samples: &mut [Duration]) -> Self {
        samples.sort_unstable();
        let at = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
        Self { count: samples.len(), median: at(0.5), p99: at(0.99) }
    }
}

/// Per-call latency over `calls` sequential calls after `warmup` untimed ones.
pub async fn latency(target: &Target, exchange: &Exchange, warmup: usize, calls: usize) -> Result<Stats, WasmError> {
    for _ in 0..warmup {
        target.run(exchange.clone()).await?;
    }
    let mut samples = Vec::with_capacity(calls);
    for _ in 0..calls {
        let input = exchange.clone();
        let started = Instant::now();
        target.run(input).await?;
        samples.push(started.elapsed());
    }
    Ok(Stats::of(&mut samples))
}

/// Calls per second with `concurrency` callers making `calls` calls in all.
pub async fn throughput(target: &Target, exchange: &Exchange, concurrency: usize, calls: usize) -> Result<f64, WasmError> {
    let per_caller = calls.div_ceil(concurrency);
    let started = Instant::now();
    let callers: Vec<_> = (0..concurrency)
        .map(|_| {
            let target = target.clone();
            let exchange = exchange.clone();
            tokio::spawn(async move {
                for _ in 0..per_caller {
                    target.run(exchange.clone()).await?;
                }
                Ok::<_, WasmError>(())
            })
        })
        .collect();
    for caller in callers {
        caller.await.expect("caller task")?;
    }
    Ok((per_caller * concurrency) as f64 / started.elapsed().as_secs_f64())
}

/// Resident set size of this process, in bytes (Linux; 0 elsewhere).
pub fn resident_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm.split_whitespace().nth(1).and_then(|p| p.parse().ok()).unwrap_or(0);
    pages * 4096
}

/// A duration in microseconds with two decimals.
pub fn micros(d: Duration) -> String {
    format!("{:.2} µs", d.as_secs_f64() * 1e6)
}
