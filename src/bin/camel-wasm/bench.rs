//! `camel-wasm bench`: load time, latency and throughput of a guest, or its stream throughput.

use serde_json::Value;

use camel_wasm::{Body, Exchange, WasmError, escape_control};

use crate::args::{BenchArgs, json_or_string, key_value};
use crate::target::Target;
use crate::{body, measure, soak};

/// Runs `bench`: latency and throughput, a streaming run or a soak (`--duration`).
pub async fn bench(args: BenchArgs) -> Result<(), String> {
    use measure::{latency, resident_bytes, throughput_latency};
    let calls = args.calls.unwrap_or(if args.stream_bytes.is_some() { 5 } else { 5000 });
    if calls == 0 || args.concurrency == 0 || args.chunk_bytes == 0 {
        return Err("--calls, --concurrency and --chunk-bytes must be greater than zero".into());
    }
    let window = std::time::Duration::try_from_secs_f64(args.window)
        .map_err(|_| format!("--window {}: not a number of seconds", args.window))?;
    let mut headers = std::collections::BTreeMap::new();
    for pair in &args.headers {
        let (k, v) = key_value(pair, "--header")?;
        headers.insert(k, json_or_string(v));
    }
    if let Some(seconds) = args.duration {
        return soak::run(&args.target, seconds, args.concurrency, args.body_size, headers, args.watch).await;
    }
    let started = std::time::Instant::now();
    let (target, name) = args.target.load(false).await?;
    let load = started.elapsed();
    if let Some(total) = args.stream_bytes {
        return bench_stream(&target, &name, load, total, args.chunk_bytes, calls, &headers).await;
    }
    let isolation = format!("{:?}", target.limits().isolation).to_lowercase();
    let mut exchange = Exchange::new("x".repeat(args.body_size));
    exchange.input.headers = headers;
    let warmup = (calls / 10).clamp(1, 500);
    let text = |e: WasmError| e.to_string();
    let stats = latency(&target, &exchange, warmup, calls).await.map_err(text)?;
    let (rate, loaded) = throughput_latency(&target, &exchange, args.concurrency, calls, window).await.map_err(text)?;
    println!("{name}: world {}, isolation {isolation}, body {} B", target.world(), args.body_size);
    println!("load (compile + checks):  {:.2} ms", load.as_secs_f64() * 1e3);
    println!("latency over {} calls:   {}", stats.count, stats.summary());
    println!("throughput, {} caller(s): {rate:.0} calls/s ({} calls)", args.concurrency, loaded.count);
    println!("latency under that load:  {}", loaded.summary());
    println!("resident memory:          {:.1} MiB", resident_bytes() as f64 / 1048576.0);
    Ok(())
}

/// `bench --stream-bytes`: 1 warm-up round, then `rounds` timed ones.
async fn bench_stream(
    target: &Target,
    name: &str,
    load: std::time::Duration,
    total: u64,
    chunk: usize,
    rounds: usize,
    headers: &std::collections::BTreeMap<String, Value>,
) -> Result<(), String> {
    use measure::stream_round;
    match target {
        Target::Policy(_) => return Err(format!("'{name}' is an authorization policy: --stream-bytes needs a plugin or a bean")),
        Target::Language(..) => return Err(format!("'{name}' is a language: --stream-bytes needs a plugin or a bean")),
        _ => {}
    }
    let isolation = format!("{:?}", target.limits().isolation).to_lowercase();
    stream_round(target, total, chunk, headers).await.map_err(|e| format!("warm-up round: {e}"))?;
    let mut rates = Vec::with_capacity(rounds);
    let mut times = Vec::with_capacity(rounds);
    let mut last = None;
    for round in 1..=rounds {
        let r = stream_round(target, total, chunk, headers).await.map_err(|e| format!("round {round}: {e}"))?;
        rates.push((r.bytes_in + r.bytes_out) as f64 / 1048576.0 / r.elapsed.as_secs_f64());
        times.push(r.elapsed);
        last = Some(r);
    }
    let last = last.expect("at least one round");
    rates.sort_by(f64::total_cmp);
    times.sort_unstable();
    let median = |sorted: &[f64]| {
        let mid = sorted.len() / 2;
        if sorted.len().is_multiple_of(2) { (sorted[mid - 1] + sorted[mid]) / 2.0 } else { sorted[mid] }
    };
    let millis = |d: std::time::Duration| d.as_secs_f64() * 1e3;
    let time_median = median(&times.iter().map(|&d| millis(d)).collect::<Vec<_>>());
    let tail = measure::Stats::of(&mut times.clone());
    println!("{name}: world {}, isolation {isolation}, stream body {total} B in {chunk} B chunks", target.world());
    println!("load (compile + checks): {:.2} ms", millis(load));
    println!("rounds:                  {rounds} after 1 warm-up");
    println!("bytes in / out:          {} / {} (last round)", last.bytes_in, last.bytes_out);
    println!("reply:                   {}", escape_control(&reply_summary(last.reply, last.streamed)));
    println!(
        "round time:              median {time_median:.2} ms, best {:.2} ms, p99 {:.2} ms, p999 {:.2} ms",
        millis(times[0]),
        millis(tail.p99),
        millis(tail.p999)
    );
    println!("stream throughput: {:.1} MiB/s", median(&rates));
    println!("best stream throughput: {:.1} MiB/s", rates[rates.len() - 1]);
    println!("peak resident memory: {:.1} MiB", measure::peak_resident_bytes() as f64 / 1048576.0);
    Ok(())
}

/// One line on what a guest answered: the result body (kind and a bit of it) and its headers.
fn reply_summary(mut reply: Exchange, streamed: bool) -> String {
    fn cut(mut text: String, max: usize) -> String {
        if text.chars().count() > max {
            text = text.chars().take(max).collect::<String>() + "…";
        }
        text
    }
    let (slot, message) = body::result_message(&mut reply);
    let body = match &message.body {
        _ if streamed => "a stream body (drained)".to_string(),
        Body::Empty => "empty body".to_string(),
        Body::Text(text) => format!("text body {}", cut(serde_json::to_string(text).unwrap_or_default(), 60)),
        Body::Xml(text) => format!("xml body {}", cut(serde_json::to_string(text).unwrap_or_default(), 60)),
        Body::Json(value) => format!("json body {}", cut(value.to_string(), 60)),
        Body::Bytes(bytes) => format!("bytes body of {} bytes", bytes.len()),
        Body::Stream(_) => "a stream body".to_string(),
    };
    let headers = cut(serde_json::to_string(&message.headers).unwrap_or_default(), 160);
    format!("{slot} message, {body}, headers {headers}")
}
