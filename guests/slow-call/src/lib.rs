//! Plugin: sends the body text to the endpoint in header `call-uri` (default
//! `slow:wait`) and replaces the body with the reply; used to test timeouts.
//! Header `x-instance-calls` counts the calls this instance has served.

use camel_wasm_guest::prelude::*;
use std::sync::atomic::{AtomicU64, Ordering};

static CALLS: AtomicU64 = AtomicU64::new(0);

struct SlowCall;

impl Plugin for SlowCall {
    async fn process(mut ex: Exchange) -> Result<Exchange, Error> {
        let uri = ex.header_str("call-uri").unwrap_or("slow:wait");
        let reply = camel_wasm_guest::call(uri, ex.body().text().unwrap_or_default()).await?;
        ex.set_body(reply);
        ex.set_header("x-instance-calls", CALLS.fetch_add(1, Ordering::Relaxed) + 1);
        Ok(ex)
    }
}

export_plugin!(SlowCall);
