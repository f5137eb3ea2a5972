//! Latency and throughput measurement of any guest, shared by `camel-wasm bench`
//! and the `just bench` suite.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::StreamExt;

use camel_wasm::{Body, Exchange, StreamBody, WasmError};

use crate::target::{Outcome, Target};

/// Order statistics of a set of durations.
#[derive(Debug, Clone, Copy)]
pub struct Stats {
    /// Number of samples.
    pub count: usize,
    /// Median.
    pub median: Duration,
    /// 99th percentile.
    pub p99: Duration,
    /// 99.9th percentile.
    pub p999: Duration,
}

impl Stats {
    /// Statistics of `samples` (sorted in place; at least one).
    pub fn of(samples: &mut [Duration]) -> Self {
        samples.sort_unstable();
        let at = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
        Self { count: samples.len(), median: at(0.5), p99: at(0.99), p999: at(0.999) }
    }

    /// `median M, p99 P, p999 Q` in microseconds.
    pub fn summary(&self) -> String {
        format!("median {}, p99 {}, p999 {}", micros(self.median), micros(self.p99), micros(self.p999))
    }
}

/// A latency histogram of bounded size for runs of any length, shared by
/// concurrent callers: 32 buckets per power of two (about 2 % resolution),
/// from 1 ns to about 18 minutes.
pub struct Histogram {
    buckets: Vec<AtomicU64>,
}

impl Default for Histogram {
    fn default() -> Self {
        Self { buckets: (0..Self::BUCKETS).map(|_| AtomicU64::new(0)).collect() }
    }
}

impl Histogram {
    const PER_OCTAVE: u32 = 32;
    const BUCKETS: usize = 40 * Self::PER_OCTAVE as usize;

    fn bucket(nanos: u64) -> usize {
        let nanos = nanos.max(1);
        let octave = 63 - nanos.leading_zeros();
        // The bits below the leading one, scaled to PER_OCTAVE steps.
        let fraction = if octave >= 5 { (nanos >> (octave - 5)) & 31 } else { (nanos << (5 - octave)) & 31 };
        ((octave * Self::PER_OCTAVE) as usize + fraction as usize).min(Self::BUCKETS - 1)
    }

    /// The upper bound of bucket `index`, in nanoseconds.
    fn upper(index: usize) -> u64 {
        let (octave, fraction) = (index as u32 / Self::PER_OCTAVE, index as u64 % Self::PER_OCTAVE as u64);
        let base = 1u64 << octave;
        base + (base * (fraction + 1)) / Self::PER_OCTAVE as u64
    }

    /// Counts one sample.
    pub fn record(&self, took: Duration) {
        let nanos = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX);
        self.buckets[Self::bucket(nanos)].fetch_add(1, Ordering::Relaxed);
    }

    /// Median, p99 and p999 (each the upper bound of its bucket); `None` without samples.
    pub fn stats(&self) -> Option<Stats> {
        let counts: Vec<u64> = self.buckets.iter().map(|b| b.load(Ordering::Relaxed)).collect();
        let total: u64 = counts.iter().sum();
        if total == 0 {
            return None;
        }
        let at = |q: f64| {
            let rank = ((total - 1) as f64 * q).round() as u64;
            let mut seen = 0;
            for (i, &n) in counts.iter().enumerate() {
                seen += n;
                if seen > rank {
                    return Duration::from_nanos(Self::upper(i));
                }
            }
            Duration::from_nanos(Self::upper(counts.len() - 1))
        };
        Some(Stats { count: total as usize, median: at(0.5), p99: at(0.99), p999: at(0.999) })
    }
}

/// Per-call latency over `calls` sequential calls after `warmup` untimed ones.
pub async fn latency(target: &Target, exchange: &Exchange, warmup: usize, calls: usize) -> Result<Stats, WasmError> {
    Ok(Stats::of(&mut latency_samples(target, exchange, warmup, calls).await?))
}

/// Like [`latency`], every call's time (sorted): for a latency distribution.
pub async fn latency_samples(
    target: &Target,
    exchange: &Exchange,
    warmup: usize,
    calls: usize,
) -> Result<Vec<Duration>, WasmError> {
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
    samples.sort_unstable();
    Ok(samples)
}

/// Calls per second with `concurrency` callers making at least `calls` calls
/// in all, for at least `window`, and the latency of each call under that load.
///
/// The callers take calls from one counter, [`SHARE`] at a time, so they end
/// within a few calls of each other: with a fixed share each, a caller that
/// fell behind would finish alone, on one core, and the rate would measure that.
/// The window keeps a fast guest from being timed over a few milliseconds,
/// where one preemption moves the rate by a tenth.
pub async fn throughput_latency(
    target: &Target,
    exchange: &Exchange,
    concurrency: usize,
    calls: usize,
    window: Duration,
) -> Result<(f64, Stats), WasmError> {
    let (taken, done) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicBool::new(false)));
    let started = Instant::now();
    let callers: Vec<_> = (0..concurrency)
        .map(|_| {
            let (target, exchange) = (target.clone(), exchange.clone());
            let (taken, done) = (taken.clone(), done.clone());
            tokio::spawn(async move {
                let mut samples = Vec::with_capacity(calls.div_ceil(concurrency) + SHARE);
                loop {
                    let first = taken.fetch_add(SHARE, Ordering::Relaxed);
                    if first >= calls && (done.load(Ordering::Relaxed) || started.elapsed() >= window) {
                        done.store(true, Ordering::Relaxed);
                        return Ok::<_, WasmError>(samples);
                    }
                    for _ in 0..SHARE {
                        let input = exchange.clone();
                        let call_started = Instant::now();
                        target.run(input).await?;
                        samples.push(call_started.elapsed());
                    }
                }
            })
        })
        .collect();
    let mut samples = Vec::with_capacity(calls);
    for caller in callers {
        samples.append(&mut caller.await.expect("caller task")?);
    }
    let rate = samples.len() as f64 / started.elapsed().as_secs_f64();
    Ok((rate, Stats::of(&mut samples)))
}

/// Calls a throughput caller takes from the shared count at a time.
const SHARE: usize = 64;

/// Resident set size of this process, in bytes (Linux; 0 elsewhere).
pub fn resident_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm.split_whitespace().nth(1).and_then(|p| p.parse().ok()).unwrap_or(0);
    pages * 4096
}

/// Peak resident set size of this process so far, in bytes (`getrusage`'s `ru_maxrss`).
pub fn peak_resident_bytes() -> u64 {
    // Linux: this address space's high-water mark. getrusage's ru_maxrss would
    // also count a parent's memory when this process was spawned by a large one.
    if let Some(kib) = std::fs::read_to_string("/proc/self/status").ok().and_then(|status| {
        let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
        line.split_whitespace().nth(1)?.parse::<u64>().ok()
    }) {
        return kib * 1024;
    }
    // SAFETY: getrusage fills the zeroed struct it is given.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) } != 0 {
        return 0;
    }
    let max = u64::try_from(usage.ru_maxrss).unwrap_or(0);
    // Kilobytes on the BSDs, bytes on macOS.
    if cfg!(target_os = "macos") { max } else { max * 1024 }
}

/// A stream body of `total` bytes (lowercase letters) in chunks of `chunk`
/// bytes, every chunk a slice of one shared buffer: no allocation or copy per
/// chunk on the host side. `pulled` counts the bytes its reader took.
pub fn generated_stream(total: u64, chunk: usize, pulled: Arc<AtomicU64>) -> StreamBody {
    let chunk = chunk.max(1);
    let buffer = Bytes::from((0..chunk).map(|i| b'a' + (i % 26) as u8).collect::<Vec<u8>>());
    let chunks = futures_util::stream::iter(0..total.div_ceil(chunk as u64)).map(move |i| {
        let len = (total - i * chunk as u64).min(chunk as u64);
        pulled.fetch_add(len, Ordering::Relaxed);
        Ok(buffer.slice(..len as usize))
    });
    StreamBody::new(chunks).with_size_hint(total).with_content_type("text/plain").with_origin("camel-wasm bench")
}

/// One round of a stream benchmark.
pub struct StreamRound {
    /// From the call to the end of the returned stream body, if any.
    pub elapsed: Duration,
    /// Bytes of the input stream the guest read.
    pub bytes_in: u64,
    /// Bytes of the stream body the guest returned (0 without one).
    pub bytes_out: u64,
    /// The exchange returned, a stream body in it drained and left empty.
    pub reply: Exchange,
    /// Whether the guest returned a stream body.
    pub streamed: bool,
}

/// Sends a stream body of `total` bytes in `chunk`-byte chunks with `headers`
/// through `target`, and drains the stream body it returns, if any, counting
/// its bytes. A guest error, or an error of the returned stream, fails the round.
pub async fn stream_round(
    target: &Target,
    total: u64,
    chunk: usize,
    headers: &std::collections::BTreeMap<String, serde_json::Value>,
) -> Result<StreamRound, String> {
    let pulled = Arc::new(AtomicU64::new(0));
    let mut exchange = Exchange::new(generated_stream(total, chunk, pulled.clone()));
    exchange.input.headers = headers.clone();
    let started = Instant::now();
    let mut reply = match target.run(exchange).await.map_err(|e| e.to_string())? {
        Outcome::Exchange(reply) => reply,
        Outcome::Decision(_) => return Err("a policy returns a decision, not a body: stream a plugin or a bean".into()),
        Outcome::Verdict(_) => return Err("a language returns a value, not a body: stream a plugin or a bean".into()),
    };
    let mut bytes_out = 0u64;
    let mut streamed = false;
    for message in std::iter::once(&mut reply.input).chain(reply.output.as_mut()) {
        if let Body::Stream(_) = message.body
            && let Body::Stream(stream) = std::mem::take(&mut message.body)
        {
            streamed = true;
            let mut chunks = stream.take().ok_or("the returned stream body was already consumed")?;
            while let Some(chunk) = chunks.next().await {
                let chunk = chunk.map_err(|e| format!("the returned stream body failed after {bytes_out} bytes: {e}"))?;
                bytes_out += chunk.len() as u64;
            }
        }
    }
    let elapsed = started.elapsed();
    Ok(StreamRound { elapsed, bytes_in: pulled.load(Ordering::Relaxed), bytes_out, reply, streamed })
}

/// A duration in microseconds with two decimals.
pub fn micros(d: Duration) -> String {
    format!("{:.2} µs", d.as_secs_f64() * 1e6)
}

#[cfg(test)]
mod tests {
    #[allow(unused_imports)] // unused where the bench suite includes this file
    use super::*;

    #[test]
    fn histogram_quantiles_are_within_their_bucket() {
        let histogram = Histogram::default();
        let mut exact: Vec<Duration> = (1..=10_000u64).map(|i| Duration::from_nanos(1_000 + i * 37)).collect();
        for &d in &exact {
            histogram.record(d);
        }
        let (binned, exact) = (histogram.stats().unwrap(), Stats::of(&mut exact));
        assert_eq!(binned.count, exact.count);
        for (b, e) in [(binned.median, exact.median), (binned.p99, exact.p99), (binned.p999, exact.p999)] {
            assert!(b >= e && b.as_secs_f64() <= e.as_secs_f64() * 1.04, "{b:?} against {e:?}");
        }
        assert!(Histogram::default().stats().is_none());
        histogram.record(Duration::from_secs(1 << 20));
    }
}
