//! Plugin: replaces the input body with a stream body generated on the fly
//! (never held whole) and returns at once; a spawned writer produces the
//! bytes while the host reads them.
//!
//! The bytes repeat `abcdefghijklmnopqrstuvwxyz` (the byte at offset `i` is
//! `b'a' + i % 26`), so the output is ASCII text. Content type `text/plain`,
//! origin `stream-gen`, size hint the total (none when failing or stalling).
//!
//! Input headers, all optional, each a number or its text (`1048576` or
//! `"1048576"`; anything else is a type-conversion error):
//!
//! | header | meaning | default |
//! |---|---|---|
//! | `x-stream-bytes` | total bytes | 1048576 (1 MiB) |
//! | `x-chunk-bytes` | bytes per write (the last may be shorter; 0 counts as 1) | 65536 |
//! | `x-fail-after-bytes` N | once at least N bytes are written (N rounded up to whole chunks), close the stream and resolve its terminal with the processor error `generator failed after W bytes`, W being the bytes written | none |
//! | `x-stall-after-bytes` N | once at least N bytes are written (rounded up to whole chunks), stop writing and wait forever without closing the stream or resolving its terminal: the writer task awaits, without spinning or blocking the instance, a read of a stream it never writes (see `stall`) | none |
//! | `x-pause-ms` M | wait M ms (blocking on a WASI monotonic-clock pollable) before each chunk but the first | 0 |
//!
//! Both limits are checked before each chunk, failure first: N = 0 writes
//! nothing; N at or above the total fails or stalls only when N equals the
//! total (after all bytes); above it, the stream just ends cleanly.

use camel_wasm_guest::prelude::*;
use std::time::Duration;

const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz";

/// A header holding a number, as a number or as text.
fn number(ex: &Exchange, key: &str) -> Result<Option<u64>, Error> {
    let Some(text) = ex.header_str(key) else {
        return Ok(None);
    };
    text.trim().parse().map(Some).map_err(|_| Error::type_conversion(format!("{key}: expected a number, got {text:?}")))
}

/// `len` bytes of the pattern, starting at offset `start`.
/// `len` bytes of the pattern from offset `start`, copied out of `cycle`
/// (the pattern repeated to at least `len + 26` bytes), so a chunk costs one copy.
fn pattern(cycle: &[u8], start: u64, len: u64) -> Vec<u8> {
    let from = (start % 26) as usize;
    cycle[from..from + len as usize].to_vec()
}

/// The pattern repeated to cover `len + 26` bytes.
fn cycle(len: u64) -> Vec<u8> {
    ALPHABET.iter().copied().cycle().take(len as usize + 26).collect()
}

fn pause(ms: u64) {
    let ns = Duration::from_millis(ms).as_nanos().min(u64::MAX as u128) as u64;
    wasip2::clocks::monotonic_clock::subscribe_duration(ns).block();
}

/// Waits forever, as a task of this component that the host may still drop.
///
/// Not `std::future::pending()`: a wit-bindgen task left waiting on nothing
/// the component model can wake traps ("Rust task cannot sleep waiting only
/// on Rust-originating events"). This waits on a stream read whose writer is
/// kept here and never writes: a real wait, no trap, no spinning.
async fn stall() -> ! {
    let (_writer, mut reader) = camel_wasm_guest::bindings::plugin::wit_stream::new::<u8>();
    loop {
        let _ = reader.read(Vec::with_capacity(1)).await;
    }
}

struct StreamGen;

impl Plugin for StreamGen {
    async fn process(mut ex: Exchange) -> Result<Exchange, Error> {
        let total = number(&ex, "x-stream-bytes")?.unwrap_or(1024 * 1024);
        let chunk = number(&ex, "x-chunk-bytes")?.unwrap_or(64 * 1024).max(1);
        let fail_after = number(&ex, "x-fail-after-bytes")?;
        let stall_after = number(&ex, "x-stall-after-bytes")?;
        let pause_ms = number(&ex, "x-pause-ms")?.unwrap_or(0);

        let cycle = cycle(chunk.min(total));
        let mut body = StreamBody::from_fn(async move |w: &mut ChunkWriter| {
            let mut written = 0;
            loop {
                if fail_after.is_some_and(|n| written >= n) {
                    let message = format!("generator failed after {written} bytes");
                    return Err(Error::processor(message));
                }
                if stall_after.is_some_and(|n| written >= n) {
                    stall().await;
                }
                if written >= total {
                    return Ok(());
                }
                if pause_ms > 0 && written > 0 {
                    pause(pause_ms);
                }
                let len = chunk.min(total - written);
                w.write(pattern(&cycle, written, len)).await?;
                written += len;
            }
        })
        .with_content_type("text/plain")
        .with_origin("stream-gen");
        if fail_after.is_none() && stall_after.is_none() {
            body = body.with_size_hint(total);
        }
        ex.set_body(body);
        Ok(ex)
    }
}

export_plugin!(StreamGen);
