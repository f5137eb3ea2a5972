//! Source: handles up to N requests at a time.
//!
//! Configuration: `concurrency` = N, an integer 1..=65535 (default 8; any
//! other value fails `configure` with the processor error
//! `concurrent-source: config 'concurrency' must be an integer from 1 to
//! 65535, not 'VALUE'`), `bind` (default `0.0.0.0:8080`) and `path`
//! (default: any path). Plan: one HTTP listener on `bind`/`path`,
//! `concurrent(N)`.
//!
//! Up to N requests are in flight (accepted, not yet submitted); each one's
//! handling runs concurrently with the others and with the next `accept` (the
//! SDK's `serve`: futures interleaved in `run`'s task, not threads), so a
//! request whose body is slow to arrive does not hold up the others. Each
//! handler reads its request body whole (at most 1 MiB; a larger body is
//! rejected with `413`, the SDK's `Request::reject`) and submits an IN-ONLY
//! exchange: input headers = all the request's headers (lower-case names,
//! `camel-wasm-request-id` included) plus `x-handled-by: concurrent-source`;
//! input body = the body as text (invalid UTF-8 replaced by U+FFFD; an empty
//! body is an empty text); correlation id = the request id; properties
//! `camel.http.method` and `camel.http.path`. Exchanges are submitted as their
//! handlers finish, not necessarily in arrival order. The host answers `202`
//! once the route took one.

use camel_wasm_guest::prelude::*;

/// The largest body read, in bytes.
pub const MAX_BODY: usize = 1024 * 1024;

/// N when the configuration has no `concurrency`.
pub const DEFAULT_CONCURRENCY: u16 = 8;

struct ConcurrentSource;

impl Source for ConcurrentSource {
    fn configure(config: Config) -> Result<Plan, Error> {
        let n = match config.get("concurrency") {
            None => DEFAULT_CONCURRENCY,
            Some(value) => value.trim().parse::<u16>().ok().filter(|n| *n > 0).ok_or_else(|| {
                Error::processor(format!(
                    "concurrent-source: config 'concurrency' must be an integer from 1 to 65535, not '{value}'"
                ))
            })?,
        };
        Ok(Plan::from_config(&config)?.concurrent(n))
    }

    async fn run(listener: Listener<'_>) -> Result<(), Error> {
        serve(&listener, async |mut req: Request| {
            let mut reader = req.take_body().into_reader();
            let mut body = Vec::new();
            while let Some(chunk) = reader.next_chunk().await {
                let chunk = chunk?;
                if body.len() + chunk.len() > MAX_BODY {
                    return Ok(req.reject(413, format!("body larger than {MAX_BODY} bytes")));
                }
                body.extend_from_slice(&chunk);
            }
            let mut ex = req.into_exchange();
            ex.set_body(String::from_utf8_lossy(&body).into_owned());
            ex.set_header("x-handled-by", "concurrent-source");
            Ok(ex)
        })
        .await
    }
}

export_source!(ConcurrentSource);
