//! Plugin: reads the input body chunk by chunk (a stream as it arrives, in
//! reads of up to 64 KiB; any other body from memory, in 64 KiB chunks),
//! keeping nothing, then replaces the input body with a text body holding the
//! decimal byte count and sets the input headers `x-stream-bytes` (the byte
//! count, a number) and `x-stream-chunks` (the number of non-empty chunks
//! read). Reads no headers.
//!
//! If the stream's terminal future carries an error, `process` fails with the
//! processor error `stream failed: <the error's message>` (for `timeout`,
//! `stream failed: timeout`).

use camel_wasm_guest::prelude::*;

struct StreamCount;

impl Plugin for StreamCount {
    async fn process(mut ex: Exchange) -> Result<Exchange, Error> {
        let mut reader = ex.take_body().into_reader();
        while let Some(chunk) = reader.next_chunk().await {
            if let Err(e) = chunk {
                let text = e.message().map_or_else(|| e.to_string(), str::to_owned);
                return Err(Error::processor(format!("stream failed: {text}")));
            }
        }
        ex.set_body(reader.bytes_read().to_string());
        ex.set_header("x-stream-bytes", reader.bytes_read());
        ex.set_header("x-stream-chunks", reader.chunks_read());
        Ok(ex)
    }
}

export_plugin!(StreamCount);
