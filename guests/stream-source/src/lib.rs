//! Source: re-emits each request body as a stream body, chunk by chunk.
//! Sequential (one request at a time).
//!
//! Configuration: `bind` (default `0.0.0.0:8080`) and `path` (default: any
//! path), the SDK's default plan: one HTTP listener, sequential.
//!
//! For each request it submits an IN-ONLY exchange: input headers = all the
//! request's headers (lower-case names, `camel-wasm-request-id` included) plus
//! `x-source: stream-source`; correlation id = the request id; properties
//! `camel.http.method` and `camel.http.path`; input body = a NEW stream body
//! (origin `stream-source`, with the request stream's size hint and content
//! type) written by a spawned writer that reads the request stream in chunks
//! of up to 64 KiB and writes each chunk as soon as it has it. The body is
//! never held whole: memory stays flat whatever its size (a 64 MiB body fits
//! a 16 MiB `max-memory`). An error on the request stream's terminal becomes
//! the output stream's terminal error, after the bytes read before it; if the
//! host drops the output stream, the writer stops and drops the request
//! stream. The host answers `202` once the route took the exchange.
//!
//! `run` returns (after the host's `accept` returned `none`, or `stopped`)
//! only once every stream it submitted has been drained (the SDK's `serve`).

use camel_wasm_guest::prelude::*;

struct StreamSource;

impl Source for StreamSource {
    async fn run(listener: Listener<'_>) -> Result<(), Error> {
        serve(&listener, async |mut req: Request| {
            let (size_hint, content_type) = match req.body.as_stream() {
                Some(stream) => (stream.size_hint, stream.content_type.clone()),
                None => (None, None),
            };
            let mut input = req.take_body().into_reader();
            let mut output = StreamBody::from_fn(async move |w: &mut ChunkWriter| {
                while let Some(chunk) = input.next_chunk().await {
                    w.write(chunk?).await?;
                }
                Ok(())
            })
            .with_origin("stream-source");
            output.size_hint = size_hint;
            output.content_type = content_type;

            let mut ex = req.into_exchange();
            ex.set_body(output);
            ex.set_header("x-source", "stream-source");
            Ok(ex)
        })
        .await
    }
}

export_source!(StreamSource);
