//! Source: request-reply. Sequential (one request at a time).
//!
//! Configuration: `bind` (default `0.0.0.0:8080`) and `path` (default: any
//! path), the SDK's default plan: one HTTP listener, sequential.
//!
//! For each request it reads the body whole (at most 1 MiB; a larger body is
//! rejected with `413`, the SDK's `Request::reject`) and submits an IN-OUT
//! exchange, so the route's result becomes the HTTP response (status from its
//! header `camel.http.response-code`): input headers = all the request's
//! headers (lower-case names, `camel-wasm-request-id` included) plus
//! `x-method` = the HTTP method and `x-path` = the request path (strings);
//! input body = the request body as text (invalid UTF-8 replaced by U+FFFD),
//! or empty for an empty request body; correlation id = the request id;
//! properties `camel.http.method` and `camel.http.path`.

use camel_wasm_guest::prelude::*;

/// The largest body read, in bytes.
pub const MAX_BODY: usize = 1024 * 1024;

struct ReplySource;

impl Source for ReplySource {
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
            let (method, path) = (req.method.clone(), req.path.clone());
            let mut ex = req.into_exchange_in_out();
            if !body.is_empty() {
                ex.set_body(String::from_utf8_lossy(&body).into_owned());
            }
            ex.set_header("x-method", method);
            ex.set_header("x-path", path);
            Ok(ex)
        })
        .await
    }
}

export_source!(ReplySource);
