//! The command line: every subcommand's clap structs (the knob flags are in [`crate::limit_args`]).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use serde_json::Value;

use crate::limit_args::LimitArgs;
use crate::new;

/// `camel-wasm`: the subcommand to run.
#[derive(Parser)]
#[command(name = "camel-wasm", version, about = "Run and inspect camel:plugin WebAssembly components")]
pub struct Cli {
    /// Compile every time: no compile cache (by default compiled components
    /// are kept in $CAMEL_WASM_CACHE_DIR, else $XDG_CACHE_HOME/camel-wasm, else
    /// ~/.cache/camel-wasm; a private directory whose entries are sealed with a MAC).
    #[arg(long, global = true)]
    pub no_cache: bool,
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Subcommand)]
pub enum Command {
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
    Serve(ServeArgs),
    /// Create a standalone guest crate NAME (a directory) that depends on the guest SDK, camel-wasm-guest.
    New {
        /// The directory to create; its last component names the crate.
        name: PathBuf,
        /// The world the guest implements.
        #[arg(long, value_enum, default_value = "plugin")]
        world: new::World,
        /// The language: a Rust crate, or a Python module built with componentize-py.
        #[arg(long, value_enum, default_value = "rust")]
        lang: new::Lang,
        /// Take the SDK from this checkout (`[patch.crates-io]`), e.g. camel-wasm's guests/sdk.
        #[arg(long, value_name = "PATH")]
        sdk_path: Option<PathBuf>,
    },
}

/// `bench`: what to measure, and how.
#[derive(Args)]
pub struct BenchArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    /// Size of the text body sent, in bytes.
    #[arg(long, default_value_t = 1024)]
    pub body_size: usize,
    /// Timed calls [default: 5000; with --stream-bytes, timed rounds: 5].
    #[arg(long)]
    pub calls: Option<usize>,
    /// Concurrent callers for the throughput figure.
    #[arg(long, default_value_t = 1)]
    pub concurrency: usize,
    /// The throughput figure takes at least SECS seconds (and at least --calls calls).
    #[arg(long, value_name = "SECS", default_value_t = 1.0, conflicts_with = "stream_bytes")]
    pub window: f64,
    /// Input header K=V (V is JSON when it parses, else a string); repeatable.
    #[arg(long = "header", value_name = "K=V")]
    pub headers: Vec<String>,
    /// Stream N bytes through the guest per round as a stream body (see above).
    #[arg(long, value_name = "N", conflicts_with_all = ["body_size", "concurrency"])]
    pub stream_bytes: Option<u64>,
    /// Bytes per chunk of the --stream-bytes body.
    #[arg(long, value_name = "N", default_value_t = 65536, requires = "stream_bytes")]
    pub chunk_bytes: usize,
    /// Call continuously for SECS seconds and count the calls that succeeded and failed (see above).
    #[arg(long, value_name = "SECS", conflicts_with_all = ["calls", "stream_bytes"])]
    pub duration: Option<f64>,
    /// With --duration: reload FILE whenever it changes while the calls go on.
    #[arg(long, requires = "duration")]
    pub watch: bool,
}

/// Which guest to load, and how.
#[derive(Args)]
pub struct TargetArgs {
    /// The component file, or a `wasm:path?knobs` URI (path relative to the current directory).
    pub file: String,
    /// Bean method to invoke.
    #[arg(long)]
    pub method: Option<String>,
    /// Language entry to evaluate: a predicate (prints true or false), an
    /// expression (prints its JSON value), or predicates A,B,C evaluated as one
    /// group (prints the first that matches, or none).
    #[arg(long, value_name = "NAME[,NAME...]", conflicts_with = "method")]
    pub entry: Option<String>,
    /// Init config K=V for beans, policies and languages; repeatable.
    #[arg(long = "config", value_name = "K=V")]
    pub config: Vec<String>,
    #[command(flatten)]
    pub limits: LimitArgs,
}

/// `call`: the exchange to send, and where the result goes.
#[derive(Args)]
pub struct CallArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    /// Text body.
    #[arg(long, conflicts_with = "body_file")]
    pub body: Option<String>,
    /// Read the body from a file: a text body when it is UTF-8, else a bytes body.
    #[arg(long, value_name = "PATH")]
    pub body_file: Option<String>,
    /// Send --body-file as a stream body, read in 64 KiB chunks as the guest
    /// takes them, never whole (size hint: the file's length; origin: PATH;
    /// content type from a few common extensions).
    #[arg(long, requires = "body_file", conflicts_with = "json")]
    pub stream: bool,
    /// Send the body as a JSON body.
    #[arg(long)]
    pub json: bool,
    /// Write the returned body (the output message's if set, else the input's)
    /// to PATH instead of printing it: text and XML as UTF-8, bytes as they
    /// are, JSON compact, a stream chunk by chunk as it arrives.
    #[arg(long, value_name = "PATH")]
    pub body_out: Option<String>,
    /// Input header K=V (V is JSON when it parses, else a string); repeatable.
    #[arg(long = "header", value_name = "K=V")]
    pub headers: Vec<String>,
    /// Exchange property K=V (V is JSON when it parses, else a string); repeatable.
    #[arg(long = "property", value_name = "K=V")]
    pub properties: Vec<String>,
    /// After the result, print a line `# metrics` and the call's metrics in the
    /// Prometheus text format (camel_wasm_calls_total, ..._errors_total, ...);
    /// the latency series are histograms (`_bucket` lines, 1 µs to 30 s).
    #[arg(long)]
    pub metrics: bool,
    /// With --metrics: the latency histograms' bucket bounds, in seconds.
    #[arg(long, value_name = "SECS,...", value_delimiter = ',', requires = "metrics", conflicts_with = "metrics_summary")]
    pub metrics_buckets: Option<Vec<f64>>,
    /// With --metrics: latency as summaries (quantiles) instead of histograms.
    #[arg(long, requires = "metrics")]
    pub metrics_summary: bool,
}

/// `serve`: a source guest, its listener and its source parameters.
#[derive(Args)]
pub struct ServeArgs {
    /// The source component file, or a `wasm:path?bind=…&path=…&knobs` URI (path relative to the current directory).
    pub file: String,
    /// The address to listen on, e.g. 127.0.0.1:8080 (port 0: any free port); required unless the URI gives `bind=`.
    #[arg(long, value_name = "ADDR")]
    pub bind: Option<String>,
    /// The only request path served (starts with '/'); default: the guest's, or every path.
    #[arg(long, value_name = "P")]
    pub path: Option<String>,
    /// Configuration K=V for the guest's `configure` (after bind and path); repeatable.
    #[arg(long = "config", value_name = "K=V")]
    pub config: Vec<String>,
    /// Allow a non-loopback --bind address.
    #[arg(long)]
    pub allow_public_bind: bool,
    /// Largest request body, in bytes; larger gets 413 [default: --max-stream-bytes].
    #[arg(long, value_name = "N")]
    pub max_body_bytes: Option<String>,
    /// Seconds a request may wait for its response before it gets 504 [default: 30].
    #[arg(long, value_name = "SECS")]
    pub request_timeout: Option<String>,
    /// PEM file of the certificate chain: serve HTTPS (with --tls-key).
    #[arg(long, value_name = "PEM")]
    pub tls_cert: Option<String>,
    /// PEM file of the certificate's private key.
    #[arg(long, value_name = "PEM")]
    pub tls_key: Option<String>,
    /// Let anyone who reaches the listener in, without authentication (auth=none), on any address.
    #[arg(long)]
    pub public: bool,
    /// A source parameter K=V (auth=jwt, auth-jwks=URL, max-connections=N, ...: see docs/rust-api.md, "Sources"); repeatable.
    #[arg(long = "source", value_name = "K=V")]
    pub source: Vec<String>,
    #[command(flatten)]
    pub limits: LimitArgs,
}

/// `pair` split at its first `=`; an error names `what` (`--header`).
pub fn key_value(pair: &str, what: &str) -> Result<(String, String), String> {
    pair.split_once('=')
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .ok_or_else(|| format!("{what} '{pair}' is not of the form K=V"))
}

/// `text` as JSON when it parses, else as a string.
pub fn json_or_string(text: String) -> Value {
    serde_json::from_str(&text).unwrap_or(Value::String(text))
}
