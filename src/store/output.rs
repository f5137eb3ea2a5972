//! Guest stdout/stderr captured into a bounded in-memory buffer.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use tokio::io::AsyncWrite;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamError};

use crate::text::escape_control;

/// A bounded capture of one guest output stream: it keeps the last `capacity`
/// bytes and never fails a guest's write.
#[derive(Clone)]
pub(crate) struct CapturedOutput {
    buffer: Arc<Mutex<Captured>>,
    capacity: usize,
}

/// The kept bytes, and how many older ones were dropped since the last clear.
#[derive(Default)]
struct Captured {
    bytes: Vec<u8>,
    dropped: usize,
}

impl CapturedOutput {
    /// A capture keeping at most `capacity` bytes.
    pub(crate) fn new(capacity: usize) -> Self {
        Self { buffer: Arc::default(), capacity }
    }

    /// Appends `bytes`, dropping the oldest bytes past the capacity.
    fn push(&self, bytes: &[u8]) {
        let mut captured = self.buffer.lock().unwrap();
        captured.bytes.extend_from_slice(bytes);
        if captured.bytes.len() > self.capacity {
            let excess = captured.bytes.len() - self.capacity;
            captured.bytes.drain(..excess);
            captured.dropped = captured.dropped.saturating_add(excess);
        }
    }

    /// What was captured, as lossy text.
    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.buffer.lock().unwrap().bytes).into_owned()
    }

    /// Whether nothing was captured since the last clear.
    pub(crate) fn is_empty(&self) -> bool {
        self.buffer.lock().unwrap().bytes.is_empty()
    }

    /// Takes what was captured (as lossy text) and how many bytes before it were dropped.
    fn take(&self) -> (String, usize) {
        let mut captured = self.buffer.lock().unwrap();
        let text = String::from_utf8_lossy(&captured.bytes).into_owned();
        captured.bytes.clear();
        (text, std::mem::take(&mut captured.dropped))
    }

    /// Forgets what was captured (at the start of each call).
    pub(crate) fn clear(&self) {
        let mut captured = self.buffer.lock().unwrap();
        captured.bytes.clear();
        captured.dropped = 0;
    }
}

impl IsTerminal for CapturedOutput {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for CapturedOutput {
    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }

    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }
}

#[async_trait::async_trait]
impl OutputStream for CapturedOutput {
    fn write(&mut self, bytes: Bytes) -> Result<(), StreamError> {
        self.push(&bytes);
        Ok(())
    }

    fn flush(&mut self) -> Result<(), StreamError> {
        Ok(())
    }

    fn check_write(&mut self) -> Result<usize, StreamError> {
        Ok(64 * 1024)
    }
}

#[async_trait::async_trait]
impl Pollable for CapturedOutput {
    async fn ready(&mut self) {}
}

impl AsyncWrite for CapturedOutput {
    fn poll_write(self: Pin<&mut Self>, _cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.push(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// Lines of one output stream forwarded per call, an event each; the rest are
/// counted in one more event, so a call makes at most 2 × 17 guest events.
pub(crate) const LOG_LINES_PER_CALL: usize = 16;

/// The longest line forwarded, in bytes (before escaping); the rest is cut with a note.
pub(crate) const LOG_LINE_BYTES: usize = 1024;

/// Forwards what a guest printed during a call as tracing events, named by
/// plugin: stdout at info, stderr at warn. Per stream and call: its first
/// [`LOG_LINES_PER_CALL`] lines, control characters escaped, then one event
/// counting the lines held back and the bytes the capture dropped.
pub(crate) fn forward(plugin: &str, stdout: &CapturedOutput, stderr: &CapturedOutput) {
    if stdout.is_empty() && stderr.is_empty() {
        return;
    }
    let (out, out_dropped) = stdout.take();
    let (err, err_dropped) = stderr.take();
    forward_stream(plugin, "stdout", &out, out_dropped);
    forward_stream(plugin, "stderr", &err, err_dropped);
}

/// One stream's part of [`forward`]: stdout at info, stderr at warn.
fn forward_stream(plugin: &str, stream: &'static str, text: &str, dropped: usize) {
    let summary = |message: &str, held_back_lines: usize, held_back_bytes: usize| match stream {
        "stdout" => {
            tracing::info!(target: "camel_wasm::guest", plugin, stream, held_back_lines, held_back_bytes, dropped_bytes = dropped, "{message}")
        }
        _ => {
            tracing::warn!(target: "camel_wasm::guest", plugin, stream, held_back_lines, held_back_bytes, dropped_bytes = dropped, "{message}")
        }
    };
    let line_event = |message: &str| match stream {
        "stdout" => tracing::info!(target: "camel_wasm::guest", plugin, stream, "{message}"),
        _ => tracing::warn!(target: "camel_wasm::guest", plugin, stream, "{message}"),
    };
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    for line in lines.by_ref().take(LOG_LINES_PER_CALL) {
        line_event(&escape_control(&truncate(line.to_string(), LOG_LINE_BYTES)));
    }
    let (held_lines, held_bytes) = lines.fold((0, 0), |(n, bytes), line| (n + 1, bytes + line.len() + 1));
    if held_lines == 0 && dropped == 0 {
        return;
    }
    let mut note = String::from("guest output held back:");
    if held_lines > 0 {
        note.push_str(&format!(" {held_lines} more lines ({held_bytes} bytes) past the first {LOG_LINES_PER_CALL} of this call"));
    }
    if dropped > 0 {
        let separator = if held_lines > 0 { ";" } else { "" };
        note.push_str(&format!("{separator} {dropped} earlier bytes dropped (guest output truncated)"));
    }
    summary(&note, held_lines, held_bytes);
}

/// The longest panic message reported, in bytes; the rest is cut with a note.
pub(crate) const PANIC_MESSAGE_BYTES: usize = 1024;

/// The panic message in a Rust guest's stderr, if it panicked, at most
/// [`PANIC_MESSAGE_BYTES`] long. `stderr` holds only this call's output
/// (the capture is cleared when a call starts).
pub(crate) fn panic_message(stderr: &str) -> Option<String> {
    let start = stderr.rfind("panicked at ")?;
    let after = &stderr[start..];
    let body = after.split_once(":\n").map_or(after, |(_, rest)| rest);
    let message: Vec<&str> = body.lines().take_while(|l| !l.starts_with("note: ")).collect();
    let message = message.join("\n").trim().to_string();
    let message = if message.is_empty() { after.trim().to_string() } else { message };
    Some(truncate(message, PANIC_MESSAGE_BYTES))
}

/// `text` cut to at most `max` bytes on a character boundary, with a note when cut.
fn truncate(mut text: String, max: usize) -> String {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let total = text.len();
    text.truncate(end);
    text.push_str(&format!("... [cut: {total} bytes]"));
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_only_the_tail() {
        let out = CapturedOutput::new(4);
        out.push(b"abcdef");
        assert_eq!(out.text(), "cdef");
        out.clear();
        assert_eq!(out.text(), "");
    }

    #[test]
    fn finds_a_rust_panic_message() {
        let stderr =
            "\nthread '<unnamed>' panicked at src/lib.rs:7:9:\npanicker: deliberate panic\nnote: run with `RUST_BACKTRACE=1`\n";
        assert_eq!(panic_message(stderr).as_deref(), Some("panicker: deliberate panic"));
        assert_eq!(panic_message("nothing here"), None);
    }

    #[test]
    fn a_long_panic_message_is_cut_to_one_kib() {
        let stderr = format!("thread 'x' panicked at a.rs:1:1:\n{}\n", "é".repeat(4000));
        let message = panic_message(&stderr).unwrap();
        assert!(message.len() <= PANIC_MESSAGE_BYTES + 32, "{}", message.len());
        assert!(message.ends_with("... [cut: 8000 bytes]"), "{message}");
    }
}
