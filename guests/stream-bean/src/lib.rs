//! Bean: the stream methods of rust-camel's bean example guest
//! (`examples/wasm-bean-example/guest/src/lib.rs` in kennycallado/rust-camel,
//! whose build is upstream's `emit_stream.wasm`/`text_utils.wasm` fixture),
//! written on the SDK with the same names and behaviour. Like upstream, every
//! method sets the input body (bean convention) and reads no headers.
//!
//! | method | result |
//! |---|---|
//! | `count` | reads the body chunk by chunk (a stream without holding it) and sets the text body `streamed N bytes`, N its byte length (0 for empty); a stream's terminal error is returned as the method's error, unchanged |
//! | `count_stream` | the same as `count` (this project's name for it) |
//! | `emit_stream` | a stream body of 5 writes of `data\n` (25 bytes), then a clean end; size hint 25, content type `application/octet-stream`, origin `bean://emit_stream` |
//! | `emit_stream_fail` | a stream body of `partial` (7 bytes), then the terminal error `processor-error("bean requested failure after partial emit")`; size hint 7, origin `bean://emit_stream_fail` |
//! | `emit_stream_slow` | a stream body of 20 chunks of 4 bytes, chunk `i` being the byte `i` four times (80 bytes), yielding between chunks; size hint 80, origin `bean://emit_stream_slow` |
//!
//! The stream bodies are written after `invoke` returns (the SDK spawns the
//! writer), closed, and only then resolve their terminal.

use camel_wasm_guest::prelude::*;

const OCTET_STREAM: &str = "application/octet-stream";

struct StreamBean;

impl StreamBean {
    async fn count(mut ex: Exchange) -> Result<Exchange, Error> {
        let n = ex.take_body().into_reader().count().await?;
        ex.set_body(format!("streamed {n} bytes"));
        Ok(ex)
    }

    async fn emit_stream(mut ex: Exchange) -> Result<Exchange, Error> {
        let body = StreamBody::from_fn(async |w: &mut ChunkWriter| {
            for _ in 0..5 {
                w.write(b"data\n".to_vec()).await?;
            }
            Ok(())
        });
        ex.set_body(body.with_size_hint(25).with_content_type(OCTET_STREAM).with_origin("bean://emit_stream"));
        Ok(ex)
    }

    async fn emit_stream_fail(mut ex: Exchange) -> Result<Exchange, Error> {
        let body = StreamBody::from_fn(async |w: &mut ChunkWriter| {
            w.write(b"partial".to_vec()).await?;
            Err(Error::processor("bean requested failure after partial emit"))
        });
        ex.set_body(body.with_size_hint(7).with_content_type(OCTET_STREAM).with_origin("bean://emit_stream_fail"));
        Ok(ex)
    }

    async fn emit_stream_slow(mut ex: Exchange) -> Result<Exchange, Error> {
        let body = StreamBody::from_fn(async |w: &mut ChunkWriter| {
            for i in 0..20u8 {
                w.write(vec![i; 4]).await?;
                camel_wasm_guest::yield_now().await;
            }
            Ok(())
        });
        ex.set_body(body.with_size_hint(80).with_content_type(OCTET_STREAM).with_origin("bean://emit_stream_slow"));
        Ok(ex)
    }
}

impl Bean for StreamBean {
    const METHODS: &'static [Method] = bean_methods! {
        "count" => Self::count,
        "count_stream" => Self::count,
        "emit_stream" => Self::emit_stream,
        "emit_stream_fail" => Self::emit_stream_fail,
        "emit_stream_slow" => Self::emit_stream_slow,
    };
}

export_bean!(StreamBean);
