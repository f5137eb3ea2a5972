//! Bodies in and out of `camel-wasm call`: a file sent as a stream body (read
//! in 64 KiB chunks, never whole), and the body a guest returned printed or
//! written to a file (a stream body chunk by chunk, as it arrives).

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::Path;

use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use camel_wasm::{Body, Exchange, Message, StreamBody, StreamError, escape_control, escape_control_json};

/// Bytes read from a file per chunk of a stream body.
pub const FILE_CHUNK: usize = 64 * 1024;
/// Chunks read ahead of the guest.
const READ_AHEAD: usize = 4;
/// A returned stream body up to this size is printed on one line with its size;
/// a longer one is printed as it arrives.
pub const PREVIEW: usize = 64 * 1024;

/// `path` as a stream body: read in [`FILE_CHUNK`] chunks by a thread of its
/// own, at most [`READ_AHEAD`] chunks ahead of the reader. Size hint: the
/// file's length; origin: the path; content type: from the extension, if known.
pub fn file_stream(path: &str) -> Result<StreamBody, String> {
    let mut file = File::open(path).map_err(|e| format!("--body-file {path}: {e}"))?;
    let length = file.metadata().map_err(|e| format!("--body-file {path}: {e}"))?.len();
    let (sender, mut receiver) = mpsc::channel::<Result<Bytes, StreamError>>(READ_AHEAD);
    let origin = path.to_string();
    std::thread::Builder::new()
        .name("body-file".into())
        .spawn(move || {
            loop {
                let mut chunk = BytesMut::zeroed(FILE_CHUNK);
                let item = match file.read(&mut chunk) {
                    Ok(0) => return,
                    Ok(n) => {
                        chunk.truncate(n);
                        Ok(chunk.freeze())
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => Err(StreamError::Source(format!("reading {origin}: {e}"))),
                };
                let failed = item.is_err();
                // A closed channel: the reader dropped the body; stop reading.
                if sender.blocking_send(item).is_err() || failed {
                    return;
                }
            }
        })
        .map_err(|e| format!("--body-file {path}: start its reader: {e}"))?;
    let chunks = futures_util::stream::poll_fn(move |cx| receiver.poll_recv(cx));
    let mut body = StreamBody::new(chunks).with_size_hint(length).with_origin(path);
    if let Some(content_type) = content_type(path) {
        body = body.with_content_type(content_type);
    }
    Ok(body)
}

/// The media type a file's extension names, for the few common ones.
fn content_type(path: &str) -> Option<&'static str> {
    let extension = Path::new(path).extension()?.to_str()?.to_ascii_lowercase();
    Some(match extension.as_str() {
        "txt" | "text" | "log" => "text/plain",
        "json" => "application/json",
        "xml" => "application/xml",
        "html" | "htm" => "text/html",
        "csv" => "text/csv",
        "yaml" | "yml" => "application/yaml",
        "bin" => "application/octet-stream",
        _ => return None,
    })
}

/// A file's bytes as a body read whole: text when they are UTF-8, else bytes.
pub fn file_body(path: &str) -> Result<Body, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("--body-file {path}: {e}"))?;
    Ok(match String::from_utf8(bytes) {
        Ok(text) => Body::Text(text),
        Err(e) => Body::Bytes(e.into_bytes()),
    })
}

/// The message whose body is the result: the one holding a stream body
/// (a guest returns at most one), else the output if set, else the input.
pub fn result_message(exchange: &mut Exchange) -> (&'static str, &mut Message) {
    let input_streams = matches!(exchange.input.body, Body::Stream(_));
    match &mut exchange.output {
        Some(output) if !input_streams => ("output", output),
        _ => ("input", &mut exchange.input),
    }
}

/// What is known of a stream body without reading it, as a JSON object.
pub fn describe(stream: &StreamBody) -> Value {
    let mut about = serde_json::Map::new();
    if let Some(size) = stream.size_hint {
        about.insert("size_hint".into(), json!(size));
    }
    if let Some(content_type) = &stream.content_type {
        about.insert("content_type".into(), json!(content_type));
    }
    if let Some(origin) = &stream.origin {
        about.insert("origin".into(), json!(origin));
    }
    Value::Object(about)
}

/// Prints what `call` got back, and writes its body to `body_out` if given.
///
/// The exchange is printed as pretty JSON. A stream body cannot be in it: it
/// shows as `{"stream": {size_hint, content_type, origin}}` and is drained
/// after, printed (see [`print_stream`]) or written to `body_out`.
pub async fn show(mut exchange: Exchange, body_out: Option<&str>) -> Result<(), String> {
    let (_, message) = result_message(&mut exchange);
    let stream = match &message.body {
        Body::Stream(stream) => Some(stream.clone()),
        _ => None,
    };
    let Some(stream) = stream else {
        let json = serde_json::to_string_pretty(&exchange).expect("an exchange without streams serializes");
        println!("{}", escape_control_json(&json));
        if let Some(path) = body_out {
            let (_, message) = result_message(&mut exchange);
            let kind = message.body.kind();
            let bytes = body_bytes(&message.body);
            std::fs::write(path, &bytes).map_err(|e| format!("--body-out {path}: {e}"))?;
            println!("body ({kind}, {} bytes) written to {path}", bytes.len());
        }
        return Ok(());
    };
    message.body = Body::Text(STREAM_MARKER.into());
    println!("{}", escape_control_json(&with_stream(&exchange, &stream)));
    drop(exchange);
    match body_out {
        Some(path) => {
            let written = write_stream(&stream, path).await?;
            println!("body (stream, {written} bytes) written to {path}");
            Ok(())
        }
        None => print_stream(&stream, &mut io::stdout()).await,
    }
}

/// Stands for a stream body in an exchange serialized by [`with_stream`].
const STREAM_MARKER: &str = "\u{0}camel-wasm: a stream body\u{0}";

/// `exchange` as pretty JSON (fields in its order), its text body
/// [`STREAM_MARKER`] shown as `"stream": {what is known of stream}`.
fn with_stream(exchange: &Exchange, stream: &StreamBody) -> String {
    let text = serde_json::to_string_pretty(exchange).expect("an exchange without streams serializes");
    let marker = format!("\"text\": {}", serde_json::to_string(STREAM_MARKER).expect("strings serialize"));
    let Some(at) = text.find(&marker) else { return text };
    let indent = &text[text[..at].rfind('\n').map_or(0, |n| n + 1)..at];
    let about =
        serde_json::to_string_pretty(&describe(stream)).expect("JSON values serialize").replace('\n', &format!("\n{indent}"));
    format!("{}\"stream\": {about}{}", &text[..at], &text[at + marker.len()..])
}

/// The bytes of a body held in memory (a JSON body as compact JSON).
fn body_bytes(body: &Body) -> Vec<u8> {
    match body {
        Body::Empty | Body::Stream(_) => Vec::new(),
        Body::Text(s) | Body::Xml(s) => s.as_bytes().to_vec(),
        Body::Bytes(b) => b.clone(),
        Body::Json(v) => serde_json::to_vec(v).expect("JSON values serialize"),
    }
}

/// Why draining a stream failed, after how many bytes.
fn failed(bytes: u64, error: StreamError) -> String {
    format!("the stream body failed after {bytes} bytes: {error}")
}

/// Writes `stream` to the file `path` chunk by chunk; gives the bytes written.
/// On failure the file keeps what arrived before it.
pub async fn write_stream(stream: &StreamBody, path: &str) -> Result<u64, String> {
    let mut chunks = stream.take().ok_or_else(|| failed(0, StreamError::Consumed))?;
    let mut file = File::create(path).map_err(|e| format!("--body-out {path}: {e}"))?;
    let mut written = 0u64;
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk.map_err(|e| format!("{} ({path} holds the bytes before it)", failed(written, e)))?;
        // This runs on the thread that blocks on the runtime, not on one of its workers.
        file.write_all(&chunk).map_err(|e| format!("--body-out {path}: {e}"))?;
        written += chunk.len() as u64;
    }
    file.flush().map_err(|e| format!("--body-out {path}: {e}"))?;
    Ok(written)
}

/// Prints `stream` to `out`, never holding more than [`PREVIEW`] bytes of it.
///
/// - It ends within [`PREVIEW`] bytes: one line, `body (stream, N bytes): TEXT`
///   when it is UTF-8, else its bytes as a JSON array, as an exchange shows a
///   bytes body: `body (stream, 3 bytes): [0,159,255]`.
/// - Longer: `body (stream, printed as it arrives): ` then the bytes as they
///   arrive, then the line `(stream ended: N bytes)`. Text or JSON array as
///   decided by the first [`PREVIEW`] bytes; in text, invalid UTF-8 further on
///   prints as U+FFFD (with a note on stderr).
pub async fn print_stream(stream: &StreamBody, out: &mut impl Write) -> Result<(), String> {
    let io_error = |e: io::Error| format!("writing stdout: {e}");
    let mut chunks = stream.take().ok_or_else(|| failed(0, StreamError::Consumed))?;
    let mut preview = Vec::new();
    let mut total = 0u64;
    while preview.len() <= PREVIEW {
        match chunks.next().await {
            None => {
                let shown = match std::str::from_utf8(&preview) {
                    Ok(text) => escape_control(text).into_owned(),
                    Err(_) => serde_json::to_string(&preview).expect("bytes serialize"),
                };
                let separator = if shown.is_empty() { ":" } else { ": " };
                writeln!(out, "body (stream, {total} bytes){separator}{shown}").map_err(io_error)?;
                return out.flush().map_err(io_error);
            }
            Some(Err(e)) => return Err(failed(total, e)),
            Some(Ok(chunk)) => {
                total += chunk.len() as u64;
                preview.extend_from_slice(&chunk);
            }
        }
    }
    let text = match std::str::from_utf8(&preview) {
        Ok(_) => true,
        Err(e) => e.error_len().is_none(),
    };
    write!(out, "body (stream, printed as it arrives): ").map_err(io_error)?;
    let mut printer = if text { Printer::Text(Utf8Printer::default()) } else { Printer::Bytes { first: true } };
    printer.feed(&preview, out).map_err(io_error)?;
    drop(preview);
    out.flush().map_err(io_error)?;
    while let Some(chunk) = chunks.next().await {
        let chunk = match chunk {
            Ok(chunk) => chunk,
            Err(e) => {
                let _ = writeln!(out);
                let _ = out.flush();
                return Err(failed(total, e));
            }
        };
        total += chunk.len() as u64;
        printer.feed(&chunk, out).map_err(io_error)?;
        out.flush().map_err(io_error)?;
    }
    let replaced = printer.finish(out).map_err(io_error)?;
    writeln!(out, "\n(stream ended: {total} bytes)").map_err(io_error)?;
    out.flush().map_err(io_error)?;
    if replaced {
        eprintln!("note: the stream body is not all UTF-8; invalid bytes printed as U+FFFD (--body-out keeps them)");
    }
    Ok(())
}

/// How the chunks of a long stream body are printed.
enum Printer {
    /// As text.
    Text(Utf8Printer),
    /// As a JSON array of numbers.
    Bytes { first: bool },
}

impl Printer {
    fn feed(&mut self, bytes: &[u8], out: &mut impl Write) -> io::Result<()> {
        match self {
            Printer::Text(text) => text.feed(bytes, out),
            Printer::Bytes { first } => {
                let mut line = String::with_capacity(bytes.len() * 4 + 1);
                for byte in bytes {
                    line.push(if std::mem::take(first) { '[' } else { ',' });
                    line.push_str(&byte.to_string());
                }
                out.write_all(line.as_bytes())
            }
        }
    }

    /// Ends the printing; gives whether any bytes were printed as U+FFFD.
    fn finish(self, out: &mut impl Write) -> io::Result<bool> {
        match self {
            Printer::Text(mut text) => {
                if !text.pending.is_empty() {
                    out.write_all("\u{FFFD}".as_bytes())?;
                    text.replaced = true;
                }
                Ok(text.replaced)
            }
            Printer::Bytes { first } => out.write_all(if first { b"[]" } else { b"]" }).map(|()| false),
        }
    }
}

/// Prints bytes arriving in chunks as UTF-8 text, characters split across
/// chunks included; invalid bytes print as U+FFFD.
#[derive(Default)]
struct Utf8Printer {
    /// The start of a character the next chunk completes (at most 3 bytes).
    pending: Vec<u8>,
    /// Whether any bytes were printed as U+FFFD.
    replaced: bool,
}

impl Utf8Printer {
    fn feed(&mut self, chunk: &[u8], out: &mut impl Write) -> io::Result<()> {
        let joined;
        let mut bytes = if self.pending.is_empty() {
            chunk
        } else {
            let mut with_pending = std::mem::take(&mut self.pending);
            with_pending.extend_from_slice(chunk);
            joined = with_pending;
            &joined[..]
        };
        loop {
            match std::str::from_utf8(bytes) {
                Ok(text) => return out.write_all(escape_control(text).as_bytes()),
                Err(e) => {
                    let (valid, rest) = bytes.split_at(e.valid_up_to());
                    let valid = std::str::from_utf8(valid).expect("valid up to here");
                    out.write_all(escape_control(valid).as_bytes())?;
                    match e.error_len() {
                        None => {
                            self.pending.extend_from_slice(rest);
                            return Ok(());
                        }
                        Some(bad) => {
                            out.write_all("\u{FFFD}".as_bytes())?;
                            self.replaced = true;
                            bytes = &rest[bad..];
                        }
                    }
                }
            }
        }
    }
}
