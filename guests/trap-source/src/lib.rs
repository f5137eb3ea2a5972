//! Source for restart tests: traps on demand. Sequential (one request at a time).
//!
//! Configuration: `bind` (default `0.0.0.0:8080`) and `path` (default: any
//! path), the SDK's default plan: one HTTP listener, sequential.
//!
//! For each request:
//! - if its path ends with `/boom`: panics right after accepting it (before
//!   reading its body or submitting anything), which traps the instance
//!   (`panic = "abort"`): the panic message is `trap-source: boom`;
//! - if its path ends with `/oom`: allocates 1 MiB blocks, keeping them,
//!   until an allocation fails (the instance traps at its `max-memory`);
//! - otherwise it reads the body whole (at most 1 MiB; a larger body is
//!   rejected with `413`, the SDK's `Request::reject`) and submits an IN-ONLY
//!   exchange: input headers = all the request's headers (lower-case names,
//!   `camel-wasm-request-id` included) plus `x-method` = the HTTP method,
//!   `x-path` = the request path (strings) and `x-served` = how many requests
//!   this instance has accepted so far, this one included (a number from 1;
//!   it starts again at 1 in a new instance, e.g. after a restart); input body
//!   = the body as text (invalid UTF-8 replaced by U+FFFD), or empty for an
//!   empty request body; correlation id = the request id; properties
//!   `camel.http.method` and `camel.http.path`. The host answers `202` once
//!   the route took it.

use camel_wasm_guest::prelude::*;
use std::sync::atomic::{AtomicU64, Ordering};

/// The largest body read, in bytes.
pub const MAX_BODY: usize = 1024 * 1024;

/// The requests this instance has accepted.
static SERVED: AtomicU64 = AtomicU64::new(0);

struct TrapSource;

impl Source for TrapSource {
    async fn run(listener: Listener<'_>) -> Result<(), Error> {
        serve(&listener, async |mut req: Request| {
            let served = SERVED.fetch_add(1, Ordering::Relaxed) + 1;
            if req.path.ends_with("/boom") {
                panic!("trap-source: boom");
            }
            if req.path.ends_with("/oom") {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    hoard.push(vec![1u8; 1024 * 1024]);
                }
            }
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
            let mut ex = req.into_exchange();
            if !body.is_empty() {
                ex.set_body(String::from_utf8_lossy(&body).into_owned());
            }
            ex.set_header("x-method", method);
            ex.set_header("x-path", path);
            ex.set_header("x-served", served);
            Ok(ex)
        })
        .await
    }
}

export_source!(TrapSource);
