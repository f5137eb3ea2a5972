//! Plugin: upper-cases (ASCII only: `a`-`z` to `A`-`Z`, other bytes kept) the
//! input body and returns it in the input message. Reads no headers.
//!
//! - A stream body becomes a stream body produced lazily from it: after
//!   `process` has returned, a spawned writer reads the input stream chunk by
//!   chunk (up to 64 KiB) and writes each chunk upper-cased as soon as it is
//!   read, so memory stays flat whatever the size. The output keeps the
//!   input's size hint and content type; its origin is `stream-upper`. An
//!   error on the input stream's terminal becomes the output stream's
//!   terminal error, unchanged, after the bytes read before it.
//! - A text or bytes body is upper-cased and returned as the same kind of body.
//! - An empty body stays empty; a JSON or XML body is the type-conversion
//!   error `stream-upper expects a stream, text or bytes body, not KIND`.

use camel_wasm_guest::prelude::*;

/// ASCII upper-casing, eight bytes at a time (the byte loop does not vectorize on wasm32).
fn upper_in_place(bytes: &mut [u8]) {
    const ONES: u64 = 0x0101_0101_0101_0101;
    let mut words = bytes.chunks_exact_mut(8);
    for word in &mut words {
        let w = u64::from_le_bytes(word.try_into().unwrap());
        // Per byte: high bit set in `lower` iff the byte is in b'a'..=b'z' (and ASCII).
        let low7 = w & (0x7f * ONES);
        let ge_a = low7 + (0x80 - b'a' as u64) * ONES;
        let gt_z = low7 + (0x7f - b'z' as u64) * ONES;
        let lower = ge_a & !gt_z & !w & (0x80 * ONES);
        word.copy_from_slice(&(w ^ (lower >> 2)).to_le_bytes());
    }
    words.into_remainder().make_ascii_uppercase();
}

struct StreamUpper;

impl Plugin for StreamUpper {
    async fn process(mut ex: Exchange) -> Result<Exchange, Error> {
        let body = match ex.take_body() {
            Body::Stream(mut input) => {
                let (size_hint, content_type) = (input.size_hint, input.content_type.take());
                let mut reader = input.reader();
                let mut output = StreamBody::from_fn(async move |w: &mut ChunkWriter| {
                    while let Some(chunk) = reader.next_chunk().await {
                        let mut chunk = chunk?;
                        upper_in_place(&mut chunk);
                        w.write(chunk).await?;
                    }
                    Ok(())
                })
                .with_origin("stream-upper");
                output.size_hint = size_hint;
                output.content_type = content_type;
                Body::Stream(output)
            }
            Body::Text(text) => Body::Text(text.to_ascii_uppercase()),
            Body::Bytes(bytes) => Body::Bytes(bytes.to_ascii_uppercase()),
            Body::Empty => Body::Empty,
            other => {
                let kind = other.kind();
                return Err(Error::type_conversion(format!("stream-upper expects a stream, text or bytes body, not {kind}")));
            }
        };
        ex.set_body(body);
        Ok(ex)
    }
}

export_plugin!(StreamUpper);
