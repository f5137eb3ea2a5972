//! Plugin: counts its calls in the host store (`count`) and sets header
//! `x-count` to the new count, as a number. The count is a read-modify-write
//! (load, then store), so it is not atomic: with header `x-pause-at`, it calls
//! that endpoint between the load and the store, which tests use to show it.

use camel_wasm_guest::prelude::*;

struct Counter;

impl Plugin for Counter {
    async fn process(mut ex: Exchange) -> Result<Exchange, Error> {
        let previous = state::load("count")?.and_then(|n| n.parse::<u64>().ok()).unwrap_or(0);
        if let Some(uri) = ex.header_str("x-pause-at") {
            camel_wasm_guest::call(uri, "").await?;
        }
        let count = previous + 1;
        state::store("count", &count.to_string())?;
        ex.set_header("x-count", count);
        Ok(ex)
    }
}

export_plugin!(Counter);
