//! `camel-wasm serve`: run a `source`-world guest on an HTTP listener and print
//! each exchange it submits as one JSON line, answering request/reply exchanges
//! with the exchange unchanged (an echo).
//!
//! A body is printed as a bounded preview (its first [`PREVIEW_BYTES`]), never
//! whole; only an in-out exchange's stream body is held, for the echo, within
//! `max-body-bytes` (16 MiB unless given). On a loopback address `serve` runs
//! without authentication as a developer tool, and says so; anywhere else it
//! needs `--source auth=...` or `--public`.

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use serde_json::{Value, json};

use camel_wasm::{
    AuthMode, Body, BoxError, Exchange, Limits, Pattern, Runtime, Source, SourceOptions, StreamBody, escape_control,
    escape_control_json,
};

use crate::args::{ServeArgs, key_value};
use crate::open::{self, runtime_in};

/// Longest wait, after the source stopped, for exchanges still being printed.
const SETTLE: Duration = Duration::from_secs(5);
/// How often the guest's failures are looked for.
const WATCH: Duration = Duration::from_millis(200);
/// `serve`'s `max-body-bytes` unless given: small, as befits a developer tool.
const SERVE_MAX_BODY_BYTES: &str = "16777216";
/// How much of a body a printed line shows.
const PREVIEW_BYTES: usize = 1024;

/// Runs `serve` until SIGINT or SIGTERM.
pub async fn serve(args: ServeArgs) -> Result<(), String> {
    let config = args.config.iter().map(|p| key_value(p, "--config")).collect::<Result<Vec<_>, _>>()?;
    let (runtime, name, limits, options) = open(&args)?;
    if options.bind.is_none() {
        return Err("give the address to listen on: --bind ADDR (e.g. 127.0.0.1:8080), or bind= in the wasm: URI".into());
    }
    // Registered before anything listens, so a signal right after the
    // `listening` line is never the default (fatal) one.
    let mut stop = StopSignals::new()?;
    let source = Source::load(&runtime, &name, limits, options).map_err(|e| e.to_string())?;
    let printer = Printer::default();
    let running = source
        .start(config, printer.service())
        .await
        .map_err(|e| e.to_string().replace("needs allow-public-bind=true", "needs --allow-public-bind"))?;
    if source.options().auth.mode == Some(AuthMode::None) && !args.public {
        eprintln!(
            "warning: serving on loopback without authentication (a developer tool); anything else needs --source auth=... or --public"
        );
    }
    let path = source.options().path.as_deref().unwrap_or("/");
    eprintln!("listening on http://{}{path} (plugin {})", running.local_addr(), source.name());

    let mut restarts = 0;
    let mut watch = tokio::time::interval(WATCH);
    loop {
        tokio::select! {
            () = stop.recv() => break,
            _ = watch.tick() => {
                let now = running.restarts();
                if now > restarts {
                    restarts = now;
                    let reason = escape_control(&running.last_error().unwrap_or_default()).into_owned();
                    eprintln!("warning: the guest's run failed, restarted (restarts: {now}): {reason}");
                }
            }
        }
    }
    let stopped = running.stop().await;
    printer.settle(SETTLE).await;
    eprintln!("stopped ({} exchanges)", printer.count.load(Ordering::Relaxed));
    stopped.map_err(|e| e.to_string())
}

/// The runtime, the source's name in it, its limits and its options: from FILE
/// and the flags, or from a `wasm:` URI and the flags for what it does not set.
fn open(args: &ServeArgs) -> Result<(Runtime, String, Limits, SourceOptions), String> {
    let (runtime, name, limits, mut options, given) = if args.file.starts_with("wasm:") {
        let (uri, options) = SourceOptions::parse_uri(&args.file, Limits::default()).map_err(|e| e.to_string())?;
        let limits = args.limits.over(uri.limits, &uri.given)?;
        let query = args.file.split_once('?').map_or("", |(_, q)| q);
        let given: Vec<&str> = query
            .split('&')
            .map(|p| p.split_once('=').map_or(p, |(k, _)| k))
            .filter(|k| SourceOptions::is_parameter(k))
            .collect();
        (runtime_in(std::path::Path::new("."))?, uri.path, limits, options, given)
    } else {
        let (runtime, name) = open::open(&args.file)?;
        (runtime, name, args.limits.to_limits()?, SourceOptions::default(), Vec::new())
    };
    let mut flags = vec![
        ("bind".to_string(), args.bind.clone()),
        ("path".to_string(), args.path.clone()),
        ("allow-public-bind".to_string(), args.allow_public_bind.then(|| "true".to_string())),
        ("max-body-bytes".to_string(), args.max_body_bytes.clone()),
        ("request-timeout".to_string(), args.request_timeout.clone()),
        ("tls-cert".to_string(), args.tls_cert.clone()),
        ("tls-key".to_string(), args.tls_key.clone()),
        ("auth".to_string(), args.public.then(|| "none".to_string())),
    ];
    for pair in &args.source {
        let (name, value) = key_value(pair, "--source")?;
        if !SourceOptions::is_parameter(&name) {
            return Err(format!("--source {name}: not a source parameter"));
        }
        flags.push((name, Some(value)));
    }
    let mut set = Vec::new();
    for (flag, value) in flags {
        if let Some(value) = value {
            if given.contains(&flag.as_str()) || set.contains(&flag) {
                return Err(format!("'{flag}' is given twice (in the wasm: URI, as --{flag} or --source); give it once"));
            }
            options.set(&flag, &value).map_err(|e| e.to_string())?;
            set.push(flag);
        }
    }
    if !given.contains(&"max-body-bytes") && !set.iter().any(|f| f == "max-body-bytes") {
        options.set("max-body-bytes", SERVE_MAX_BODY_BYTES).map_err(|e| e.to_string())?;
    }
    // A developer tool on loopback: no authentication unless asked for; anywhere else it must be said.
    if options.auth.mode.is_none() {
        match options.bind {
            Some(bind) if bind.ip().is_loopback() => options.auth.mode = Some(AuthMode::None),
            Some(bind) => {
                let gate = if options.allow_public_bind { "" } else { "needs --allow-public-bind, and " };
                return Err(format!(
                    "cannot listen on {bind}: a non-loopback address {gate}needs authentication (--source auth=jwt \
                     --source auth-jwks=URL ...) or --public to let anyone in"
                ));
            }
            None => {}
        }
    }
    Ok((runtime, name, limits, options))
}

/// SIGINT (Ctrl-C) and SIGTERM.
struct StopSignals {
    #[cfg(unix)]
    signals: (tokio::signal::unix::Signal, tokio::signal::unix::Signal),
}

impl StopSignals {
    #[cfg(unix)]
    fn new() -> Result<Self, String> {
        use tokio::signal::unix::{SignalKind, signal};
        let listen = |kind| signal(kind).map_err(|e| format!("cannot handle signals: {e}"));
        Ok(Self { signals: (listen(SignalKind::interrupt())?, listen(SignalKind::terminate())?) })
    }

    #[cfg(not(unix))]
    fn new() -> Result<Self, String> {
        Ok(Self {})
    }

    #[cfg(unix)]
    async fn recv(&mut self) {
        tokio::select! {
            _ = self.signals.0.recv() => {}
            _ = self.signals.1.recv() => {}
        }
    }

    #[cfg(not(unix))]
    async fn recv(&mut self) {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// The application behind the source: prints each exchange, echoes it back.
#[derive(Clone, Default)]
struct Printer {
    /// Exchanges printed.
    count: Arc<AtomicU64>,
    /// Exchanges being handled.
    busy: Arc<AtomicUsize>,
}

/// Counts an exchange as being handled while it lives.
struct Busy(Arc<AtomicUsize>);

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A stream body read to its end (or to its failure): its length, its first
/// bytes, and all of it only when it is echoed.
struct Drained {
    length: u64,
    preview: Vec<u8>,
    /// The whole body, kept for an in-out exchange's echo.
    kept: Option<Vec<u8>>,
    error: Option<String>,
}

impl Printer {
    fn service(
        &self,
    ) -> impl tower::Service<Exchange, Response = Exchange, Error = BoxError, Future: Send + 'static> + Clone + Send + Sync + 'static
    {
        let printer = self.clone();
        tower::service_fn(move |exchange| printer.clone().handle(exchange))
    }

    /// Waits up to `grace` for the exchanges being handled.
    async fn settle(&self, grace: Duration) {
        let deadline = tokio::time::Instant::now() + grace;
        while self.busy.load(Ordering::Acquire) > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    async fn handle(self, mut exchange: Exchange) -> Result<Exchange, BoxError> {
        self.busy.fetch_add(1, Ordering::AcqRel);
        let _busy = Busy(self.busy.clone());
        let mut failure = None;
        let mut streams = Vec::new();
        let in_out = exchange.pattern == Pattern::InOut;
        for (slot, message) in [("input", Some(&mut exchange.input)), ("output", exchange.output.as_mut())] {
            let Some(message) = message else { continue };
            let Body::Stream(stream) = &message.body else { continue };
            let stream = stream.clone();
            let drained = drain(&stream, in_out).await;
            if let Some(error) = &drained.error {
                failure.get_or_insert_with(|| format!("the {slot} stream body failed after {} bytes: {error}", drained.length));
            }
            let marker = format!("{MARKER}{slot}");
            message.body = Body::Text(marker.clone());
            streams.push((slot, marker, stream, drained));
        }
        let line = one_line(&exchange, &streams);
        {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{}", escape_control_json(&line));
            let _ = out.flush();
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        if let Some(failure) = failure {
            return Err(failure.into());
        }
        // The echo: the bodies as they came, a drained stream as a stream of the same bytes.
        for (slot, _, stream, drained) in streams {
            let message = if slot == "input" { Some(&mut exchange.input) } else { exchange.output.as_mut() };
            if let Some(message) = message {
                let mut echo = StreamBody::from_chunks([Ok(Bytes::from(drained.kept.unwrap_or_default()))]);
                (echo.size_hint, echo.content_type, echo.origin) = (stream.size_hint, stream.content_type, stream.origin);
                message.body = Body::Stream(echo);
            }
        }
        Ok(exchange)
    }
}

/// Stands for a stream body in an exchange serialized by [`one_line`].
const MARKER: &str = "\u{0}camel-wasm: a stream body in ";

/// Reads `stream` to its end, keeping its first [`PREVIEW_BYTES`] (and all of it when `keep`).
async fn drain(stream: &StreamBody, keep: bool) -> Drained {
    let mut drained = Drained { length: 0, preview: Vec::new(), kept: keep.then(Vec::new), error: None };
    let Some(mut chunks) = stream.take() else {
        drained.error = Some("the stream was read already".into());
        return drained;
    };
    while let Some(chunk) = chunks.next().await {
        match chunk {
            Ok(chunk) => {
                drained.length += chunk.len() as u64;
                let room = PREVIEW_BYTES.saturating_sub(drained.preview.len());
                drained.preview.extend_from_slice(&chunk[..room.min(chunk.len())]);
                if let Some(kept) = &mut drained.kept {
                    kept.extend_from_slice(&chunk);
                }
            }
            Err(e) => {
                drained.error = Some(e.to_string());
                return drained;
            }
        }
    }
    drained
}

/// What a printed line shows of `bytes` (a body of `length`): its text, or its hex when not UTF-8, and whether it is cut.
fn preview(about: &mut serde_json::Map<String, Value>, bytes: &[u8], length: u64) {
    let shown = &bytes[..bytes.len().min(PREVIEW_BYTES)];
    // A preview may cut a character in two: the text is what is whole of it.
    let text = match std::str::from_utf8(shown) {
        Ok(text) => Some(text),
        Err(e) if e.error_len().is_none() && shown.len() < length as usize => std::str::from_utf8(&shown[..e.valid_up_to()]).ok(),
        Err(_) => None,
    };
    match text {
        Some(text) => about.insert("text".into(), json!(text)),
        None => about.insert("hex".into(), json!(shown.iter().map(|b| format!("{b:02x}")).collect::<String>())),
    };
    if (shown.len() as u64) < length {
        about.insert("truncated".into(), json!(true));
    }
}

/// The exchange as compact JSON, each stream body (a text body holding its
/// marker) shown as `{"stream": {...what is known of it, "length", "text" or "bytes", "error"?}}`.
fn one_line(exchange: &Exchange, streams: &[(&str, String, StreamBody, Drained)]) -> String {
    let mut line = serde_json::to_string(exchange).expect("an exchange without streams serializes");
    for (_, marker, stream, drained) in streams {
        let Value::Object(mut about) = crate::body::describe(stream) else { unreachable!("describe gives an object") };
        about.insert("length".into(), json!(drained.length));
        preview(&mut about, &drained.preview, drained.length);
        if let Some(error) = &drained.error {
            about.insert("error".into(), json!(error));
        }
        let placeholder = serde_json::to_string(&Body::Text(marker.clone())).expect("bodies serialize");
        let shown = json!({ "stream": about }).to_string();
        line = line.replacen(&placeholder, &shown, 1);
    }
    line
}
