//! `camel-wasm`: run an exchange through a guest component, serve a source guest, inspect one,
//! measure one, or create a new guest crate.

mod body;
mod measure;
mod new;
mod serve;
mod soak;
mod target;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use serde_json::Value;

use camel_wasm::{Bean, Body, CallRequest, Decision, EndpointUri, Exchange, Limits, Runtime, WasmError, escape_control};
use target::{Outcome, Target};

#[derive(Parser)]
#[command(name = "camel-wasm", version, about = "Run and inspect camel:plugin WebAssembly components")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Send one exchange through a plugin, bean or policy and print the result.
    ///
    /// A plugin or bean's exchange is printed as pretty JSON. When its body is a
    /// stream, the JSON shows `"body": {"stream": {size_hint, content_type,
    /// origin}}` and the stream is drained after it, as it arrives:
    ///
    /// - ending within 64 KiB: one line, `body (stream, N bytes): TEXT` when
    ///   the bytes are UTF-8, else `body (stream, N bytes): [104,105,...]`
    ///   (a JSON array, as an exchange shows a bytes body);
    /// - longer: `body (stream, printed as it arrives): ` then the bytes as they
    ///   come, then a line `(stream ended: N bytes)`; text or JSON array as the
    ///   first 64 KiB decide (further invalid UTF-8 prints as U+FFFD, with a
    ///   note on stderr).
    ///
    /// Text a guest controls (bodies, errors, the `log:` endpoint's lines) is
    /// printed with control characters escaped (`\r`, `\u{1b}`; `\u007f` in JSON).
    ///
    /// With --body-out PATH the body goes to PATH instead (a stream chunk by
    /// chunk) and a line `body (KIND, N bytes) written to PATH` follows the JSON.
    /// A stream that fails is reported on stderr as `error: the stream body
    /// failed after N bytes: ...`, exit status 1.
    #[command(verbatim_doc_comment, about = "Send one exchange through a plugin, bean or policy and print the result")]
    Call(CallArgs),
    /// Print which world a component fits, with its imports and exports.
    Inspect {
        /// The component file.
        file: String,
    },
    /// Measure a guest: load time, median and p99 latency, calls per second.
    ///
    /// With --stream-bytes N, measure streaming instead: each round sends a
    /// stream body of N bytes (lowercase letters, in --chunk-bytes chunks sliced
    /// from one buffer, so the host allocates nothing per chunk) and drains the
    /// stream body the guest returns, if any, counting its bytes; 1 warm-up
    /// round, then --calls timed rounds (default 5). Prints the bytes in and out,
    /// the guest's reply, `stream throughput: X MiB/s` (the median over the
    /// rounds of (bytes in + bytes out) / wall time, from the call to the end of
    /// the returned stream), the best round, and `peak resident memory: Y MiB`
    /// (getrusage's ru_maxrss of the whole process). Fails if the guest or a
    /// stream fails.
    ///
    /// With --duration SECS, call the guest continuously instead, from
    /// --concurrency tasks, for SECS seconds; with --watch, also reload FILE
    /// whenever it changes (Runtime::watch) while the calls go on. Prints
    /// `watching FILE for SECS s with N caller(s)` (or `calling ...` without
    /// --watch) when the calls start, then
    /// `calls: N ok, M failed; reloads: R (F failed)`. Exits 1 if any call failed.
    #[command(verbatim_doc_comment, about = "Measure a guest: load time, median and p99 latency, calls per second")]
    Bench(BenchArgs),
    /// Run a source-world guest on an HTTP listener; print each exchange it submits.
    ///
    /// Loads FILE (or the `wasm:` URI), runs its `configure` with `bind`, `path`
    /// and the --config pairs, listens, and prints to stderr one line
    /// `listening on http://ADDR/PATH (plugin NAME)` with the address bound
    /// (the real port when --bind asks for port 0; PATH is `/` without --path).
    ///
    /// Each exchange the guest submits to the route is printed on stdout as ONE
    /// line of compact JSON: the exchange as `call` prints it (input, output,
    /// properties, pattern, correlation_id, ...); a rejection the guest answers
    /// itself (header camel-wasm-reply: direct) is not. A stream body is drained
    /// first (whole, in memory: bounded by --max-body-bytes for request bodies
    /// and --max-stream-bytes otherwise) and shown as
    ///
    ///     "body": {"stream": {"size_hint": N, "content_type": T, "origin": O,
    ///                         "length": N, "text": "..."}}
    ///
    /// (the fields known of it, its length in bytes, then `text` when its bytes
    /// are UTF-8, else `bytes`: a JSON array of numbers; a stream that fails
    /// adds `"error": "..."` after the bytes that came before it, and fails the
    /// exchange: HTTP 500 for request/reply).
    ///
    /// In-only exchanges are answered 202 by the host; in-out exchanges are
    /// answered with the exchange unchanged (an echo: status 200 unless the
    /// header camel.http.response-code says otherwise, the output message's
    /// headers and body if it has one, else the input's).
    ///
    /// Runs until SIGINT (Ctrl-C) or SIGTERM, then stops the guest and prints
    /// `stopped (N exchanges)` to stderr (exit status 0). A guest whose run
    /// fails is restarted; each restart is reported on stderr as
    /// `warning: the guest's run failed, restarted (restarts: N): REASON`.
    /// Failing to start (bind in use, plan mismatch, configure failure) prints
    /// one line `error: ...`, exit status 1.
    #[command(verbatim_doc_comment, about = "Run a source-world guest on an HTTP listener and print each exchange it submits")]
    Serve(serve::ServeArgs),
    /// Create a standalone guest crate NAME (a directory) that depends on the guest SDK, camel-wasm-guest.
    New {
        /// The directory to create; its last component names the crate.
        name: PathBuf,
        /// The world the guest implements.
        #[arg(long, value_enum, default_value = "plugin")]
        world: new::World,
        /// Take the SDK from this checkout (`[patch.crates-io]`), e.g. camel-wasm's guests/sdk.
        #[arg(long, value_name = "PATH")]
        sdk_path: Option<PathBuf>,
    },
}

#[derive(Args)]
struct BenchArgs {
    #[command(flatten)]
    target: TargetArgs,
    /// Size of the text body sent, in bytes.
    #[arg(long, default_value_t = 1024)]
    body_size: usize,
    /// Timed calls [default: 5000; with --stream-bytes, timed rounds: 5].
    #[arg(long)]
    calls: Option<usize>,
    /// Concurrent callers for the throughput figure.
    #[arg(long, default_value_t = 1)]
    concurrency: usize,
    /// Input header K=V (V is JSON when it parses, else a string); repeatable.
    #[arg(long = "header", value_name = "K=V")]
    headers: Vec<String>,
    /// Stream N bytes through the guest per round as a stream body (see above).
    #[arg(long, value_name = "N", conflicts_with_all = ["body_size", "concurrency"])]
    stream_bytes: Option<u64>,
    /// Bytes per chunk of the --stream-bytes body.
    #[arg(long, value_name = "N", default_value_t = 65536, requires = "stream_bytes")]
    chunk_bytes: usize,
    /// Call continuously for SECS seconds and count the calls that succeeded and failed (see above).
    #[arg(long, value_name = "SECS", conflicts_with_all = ["calls", "stream_bytes"])]
    duration: Option<f64>,
    /// With --duration: reload FILE whenever it changes while the calls go on.
    #[arg(long, requires = "duration")]
    watch: bool,
}

/// Which guest to load, and how.
#[derive(Args)]
struct TargetArgs {
    /// The component file, or a `wasm:path?knobs` URI (path relative to the current directory).
    file: String,
    /// Bean method to invoke.
    #[arg(long)]
    method: Option<String>,
    /// Init config K=V for beans and policies; repeatable.
    #[arg(long = "config", value_name = "K=V")]
    config: Vec<String>,
    #[command(flatten)]
    limits: LimitArgs,
}

impl TargetArgs {
    /// Loads the guest; a bean called without `--method` is an error when `method_required`.
    async fn load(&self, method_required: bool) -> Result<(Target, String), String> {
        let (_, target, name) = self.load_in(method_required).await?;
        Ok((target, name))
    }

    /// Like [`load`](Self::load), also giving the runtime it was loaded in
    /// (the plugin's name is relative to its base directory).
    async fn load_in(&self, method_required: bool) -> Result<(Runtime, Target, String), String> {
        let config = self.config.iter().map(|p| key_value(p, "--config")).collect::<Result<Vec<_>, _>>()?;
        let (runtime, name, limits) = self.open()?;
        let target = Target::load(&runtime, &name, limits, self.method.as_deref(), config).await?;
        if let (true, None, Target::Bean(bean, _)) = (method_required, &self.method, &target) {
            return Err(format!("'{name}' is a bean: pass --method (one of: {})", bean.methods().join(", ")));
        }
        Ok((runtime, target, name))
    }
}

#[derive(Args)]
struct CallArgs {
    #[command(flatten)]
    target: TargetArgs,
    /// Text body.
    #[arg(long, conflicts_with = "body_file")]
    body: Option<String>,
    /// Read the body from a file: a text body when it is UTF-8, else a bytes body.
    #[arg(long, value_name = "PATH")]
    body_file: Option<String>,
    /// Send --body-file as a stream body, read in 64 KiB chunks as the guest
    /// takes them, never whole (size hint: the file's length; origin: PATH;
    /// content type from a few common extensions).
    #[arg(long, requires = "body_file", conflicts_with = "json")]
    stream: bool,
    /// Send the body as a JSON body.
    #[arg(long)]
    json: bool,
    /// Write the returned body (the output message's if set, else the input's)
    /// to PATH instead of printing it: text and XML as UTF-8, bytes as they
    /// are, JSON compact, a stream chunk by chunk as it arrives.
    #[arg(long, value_name = "PATH")]
    body_out: Option<String>,
    /// Input header K=V (V is JSON when it parses, else a string); repeatable.
    #[arg(long = "header", value_name = "K=V")]
    headers: Vec<String>,
    /// Exchange property K=V (V is JSON when it parses, else a string); repeatable.
    #[arg(long = "property", value_name = "K=V")]
    properties: Vec<String>,
    /// After the result, print a line `# metrics` and the call's metrics in the
    /// Prometheus text format (camel_wasm_calls_total, ..._errors_total, ...).
    #[arg(long)]
    metrics: bool,
}

/// The URI knobs as flags; each is checked by `Limits::set`.
#[derive(Args)]
struct LimitArgs {
    /// Call timeout in seconds.
    #[arg(long)]
    timeout: Option<String>,
    /// Largest guest memory, in bytes.
    #[arg(long)]
    max_memory: Option<String>,
    /// Calls in flight at once.
    #[arg(long)]
    max_concurrent: Option<String>,
    /// Largest .wasm file, in bytes.
    #[arg(long)]
    max_wasm_size: Option<String>,
    /// `reuse` or `per-call`.
    #[arg(long)]
    isolation: Option<String>,
    /// Calls after which an instance is replaced.
    #[arg(long)]
    recycle_after: Option<String>,
    /// Most host-store keys.
    #[arg(long)]
    state_max_entries: Option<String>,
    /// Longest host-store key, in bytes.
    #[arg(long)]
    state_max_key_bytes: Option<String>,
    /// Longest host-store value, in bytes.
    #[arg(long)]
    state_max_value_bytes: Option<String>,
    /// Endpoints the guest may call: schemes or scheme:path prefixes, comma-separated (default: none).
    /// The CLI provides `log:`, which prints the payload to stderr and replies with it.
    #[arg(long, value_name = "SCHEMES")]
    allow_call: Option<String>,
    /// Most properties a guest may set in one call.
    #[arg(long)]
    max_properties: Option<String>,
    /// Most bytes of properties a guest may set in one call.
    #[arg(long)]
    max_property_bytes: Option<String>,
    /// Most core instances in the guest.
    #[arg(long)]
    max_instances: Option<String>,
    /// Most tables in the guest.
    #[arg(long)]
    max_tables: Option<String>,
    /// Most table elements in the guest.
    #[arg(long)]
    max_table_elements: Option<String>,
    /// Most bytes one stream body may carry, in either direction.
    #[arg(long)]
    max_stream_bytes: Option<String>,
    /// Seconds a stream body may make no progress before it fails.
    #[arg(long)]
    stream_idle_timeout: Option<String>,
    /// Failed calls in a row after which the endpoint reports unhealthy.
    #[arg(long)]
    unhealthy_after: Option<String>,
    /// Where host-store state lives: `memory` (default) or `redis://HOST:PORT/DB`, shared by every process using it.
    #[arg(long, value_name = "URL")]
    state: Option<String>,
    /// Keeps this endpoint's state apart from others on the same plugin (or shares it on purpose).
    #[arg(long, value_name = "NAME")]
    state_namespace: Option<String>,
    /// Seconds a stored host-store key lives (default: until overwritten).
    #[arg(long, value_name = "SECONDS")]
    state_ttl: Option<String>,
}

impl LimitArgs {
    fn to_limits(&self) -> Result<Limits, String> {
        self.over(Limits::default(), &[])
    }

    /// `base` with every flag given set on it; a flag for a knob in `from_uri` is an error.
    fn over(&self, mut limits: Limits, from_uri: &[String]) -> Result<Limits, String> {
        let flags = [
            ("timeout", &self.timeout),
            ("max-memory", &self.max_memory),
            ("max-concurrent", &self.max_concurrent),
            ("max-wasm-size", &self.max_wasm_size),
            ("isolation", &self.isolation),
            ("recycle-after", &self.recycle_after),
            ("state-max-entries", &self.state_max_entries),
            ("state-max-key-bytes", &self.state_max_key_bytes),
            ("state-max-value-bytes", &self.state_max_value_bytes),
            ("allow-call", &self.allow_call),
            ("max-properties", &self.max_properties),
            ("max-property-bytes", &self.max_property_bytes),
            ("max-instances", &self.max_instances),
            ("max-tables", &self.max_tables),
            ("max-table-elements", &self.max_table_elements),
            ("max-stream-bytes", &self.max_stream_bytes),
            ("stream-idle-timeout", &self.stream_idle_timeout),
            ("unhealthy-after", &self.unhealthy_after),
            ("state", &self.state),
            ("state-namespace", &self.state_namespace),
            ("state-ttl", &self.state_ttl),
        ];
        for (name, value) in flags {
            if let Some(value) = value {
                if from_uri.iter().any(|k| k == name) {
                    return Err(format!("'{name}' is given both in the wasm: URI and as --{name}; give it once"));
                }
                limits.set(name, value).map_err(|e| e.to_string())?;
            }
        }
        Ok(limits)
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    let rt = tokio::runtime::Runtime::new().expect("start the tokio runtime");
    match rt.block_on(run(cli.command)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {}", escape_control(&message.replace('\n', " ")));
            ExitCode::FAILURE
        }
    }
}

/// Logs to stderr, filtered by `RUST_LOG` (default `warn`: a guest's stderr
/// lines show, its stdout lines need `info`; target `camel_wasm::guest`).
fn init_logging() {
    use std::io::IsTerminal;
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
}

impl TargetArgs {
    /// The runtime, the plugin's name in it, and its limits: from FILE and
    /// the flags, or from a `wasm:path?knobs` URI (path relative to the
    /// current directory) and the flags for knobs the URI does not set.
    fn open(&self) -> Result<(Runtime, String, Limits), String> {
        if !self.file.starts_with("wasm:") {
            let limits = self.limits.to_limits()?;
            let (runtime, name) = open(&self.file)?;
            return Ok((runtime, name, limits));
        }
        let uri: EndpointUri = self.file.parse().map_err(|e: camel_wasm::ConfigError| e.to_string())?;
        let limits = self.limits.over(uri.limits, &uri.given)?;
        let runtime = runtime_in(Path::new("."))?;
        Ok((runtime, uri.path, limits))
    }
}

/// A runtime rooted at the file's directory, and the file's name within it.
///
/// It has one endpoint, `log:`, for guests that call out (if `--allow-call` lets them).
fn open(file: &str) -> Result<(Runtime, String), String> {
    let path = Path::new(file);
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = path.file_name().ok_or_else(|| format!("'{file}' names no file"))?.to_string_lossy().into_owned();
    Ok((runtime_in(dir)?, name))
}

/// A runtime over `dir` with the CLI's `log:` endpoint.
fn runtime_in(dir: &Path) -> Result<Runtime, String> {
    let runtime = Runtime::builder().base_dir(dir).build().map_err(|e| e.to_string())?;
    runtime.endpoints().register_fn("log", |req: CallRequest| async move {
        eprintln!("[{}] {}", escape_control(&req.uri), escape_control(&req.payload));
        Ok(req.payload)
    });
    Ok(runtime)
}

/// `lines`, each escaped, one per line indented by two spaces after the first.
fn escape_lines<S: AsRef<str>>(lines: &[S]) -> String {
    lines.iter().map(|line| escape_control(line.as_ref())).collect::<Vec<_>>().join("\n  ")
}

fn key_value(pair: &str, what: &str) -> Result<(String, String), String> {
    pair.split_once('=')
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .ok_or_else(|| format!("{what} '{pair}' is not of the form K=V"))
}

fn json_or_string(text: String) -> Value {
    serde_json::from_str(&text).unwrap_or(Value::String(text))
}

fn exchange(args: &CallArgs) -> Result<Exchange, String> {
    let json = |text: &str| serde_json::from_str(text).map_err(|e| format!("--json body is not JSON: {e}"));
    let body = match (&args.body, &args.body_file) {
        (None, None) => Body::Empty,
        (Some(text), _) if args.json => Body::Json(json(text)?),
        (Some(text), _) => Body::Text(text.clone()),
        (None, Some(file)) if args.stream => Body::Stream(body::file_stream(file)?),
        (None, Some(file)) if args.json => {
            Body::Json(json(&std::fs::read_to_string(file).map_err(|e| format!("--body-file {file}: {e}"))?)?)
        }
        (None, Some(file)) => body::file_body(file)?,
    };
    let mut exchange = Exchange::new(body);
    for pair in &args.headers {
        let (k, v) = key_value(pair, "--header")?;
        exchange.input.headers.insert(k, json_or_string(v));
    }
    for pair in &args.properties {
        let (k, v) = key_value(pair, "--property")?;
        exchange.properties.insert(k, json_or_string(v));
    }
    Ok(exchange)
}

async fn run(command: Command) -> Result<(), String> {
    match command {
        Command::Inspect { file } => {
            let (runtime, name) = open(&file)?;
            let info = runtime.inspect(&name).map_err(|e| e.to_string())?;
            match info.worlds.as_slice() {
                [] => println!("fits no world:\n  {}", escape_lines(&info.mismatches)),
                worlds => println!("world: {}", worlds.join(", ")),
            }
            if let Some(methods) = bean_methods(&runtime, &name, &info.worlds).await? {
                println!("methods: {}", escape_control(&methods.join(", ")));
            }
            println!("imports:\n  {}", escape_lines(&info.imports));
            println!("exports:\n  {}", escape_lines(&info.exports));
            Ok(())
        }
        Command::Call(args) => call(args).await,
        Command::Bench(args) => bench(args).await,
        Command::Serve(args) => serve::serve(args).await,
        Command::New { name, world, sdk_path } => {
            println!("{}", new::create(&name, world, sdk_path.as_deref())?);
            Ok(())
        }
    }
}

async fn bench(args: BenchArgs) -> Result<(), String> {
    use measure::{latency, resident_bytes, throughput_latency};
    let calls = args.calls.unwrap_or(if args.stream_bytes.is_some() { 5 } else { 5000 });
    if calls == 0 || args.concurrency == 0 || args.chunk_bytes == 0 {
        return Err("--calls, --concurrency and --chunk-bytes must be greater than zero".into());
    }
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
    let (rate, loaded) = throughput_latency(&target, &exchange, args.concurrency, calls).await.map_err(text)?;
    println!("{name}: world {}, isolation {isolation}, body {} B", target.world(), args.body_size);
    println!("load (compile + checks):  {:.2} ms", load.as_secs_f64() * 1e3);
    println!("latency over {} calls:   {}", stats.count, stats.summary());
    println!("throughput, {} caller(s): {rate:.0} calls/s", args.concurrency);
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
    if let Target::Policy(_) = target {
        return Err(format!("'{name}' is an authorization policy: --stream-bytes needs a plugin or a bean"));
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

async fn bean_methods(runtime: &Runtime, name: &str, worlds: &[&str]) -> Result<Option<Vec<String>>, String> {
    if !worlds.contains(&"bean") {
        return Ok(None);
    }
    let bean = Bean::load(runtime, name, Limits::default(), Vec::new()).await.map_err(|e| e.to_string())?;
    Ok(Some(bean.methods().to_vec()))
}

async fn call(args: CallArgs) -> Result<(), String> {
    let exchange = exchange(&args)?;
    // Handles are registered when a guest is loaded: the recorder goes first.
    let metrics = match args.metrics {
        true => Some(
            metrics_exporter_prometheus::PrometheusBuilder::new().install_recorder().map_err(|e| format!("--metrics: {e}"))?,
        ),
        false => None,
    };
    let result = call_once(&args, exchange).await;
    if let Some(handle) = metrics {
        println!("# metrics");
        print!("{}", handle.render());
    }
    result
}

async fn call_once(args: &CallArgs, exchange: Exchange) -> Result<(), String> {
    let (target, _name) = args.target.load(true).await?;
    match target.run(exchange).await.map_err(|e| e.to_string())? {
        Outcome::Exchange(exchange) => body::show(exchange, args.body_out.as_deref()).await?,
        Outcome::Decision(Decision::Granted) => println!("Granted"),
        Outcome::Decision(Decision::Denied { reason }) => println!("Denied: {}", escape_control(&reason)),
    }
    Ok(())
}
