//! Plugin: leaks as many WASI pollables as its body says (a number, default
//! 0) and never drops them; header `x-instance-calls` counts the calls this
//! instance has served. A hostile guest for the host's handle bound.

use std::sync::atomic::{AtomicU64, Ordering};

use camel_wasm_guest::prelude::*;

static CALLS: AtomicU64 = AtomicU64::new(0);

struct HandleLeak;

impl Plugin for HandleLeak {
    async fn process(mut ex: Exchange) -> Result<Exchange, Error> {
        let count: usize = ex.body().text().unwrap_or_default().trim().parse().unwrap_or(0);
        for _ in 0..count {
            std::mem::forget(wasip2::clocks::monotonic_clock::subscribe_duration(1_000_000_000));
        }
        ex.set_header("x-instance-calls", CALLS.fetch_add(1, Ordering::Relaxed) + 1);
        Ok(ex)
    }
}

export_plugin!(HandleLeak);
