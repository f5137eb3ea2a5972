//! Plugin: counts its calls in the host store (`count`) and sets header
//! `x-count` to the new count, as a number.

use camel_wasm_guest::prelude::*;

struct Counter;

impl Plugin for Counter {
    async fn process(mut ex: Exchange) -> Result<Exchange, Error> {
        let previous = state::load("count")?
            .and_then(|n| n.parse::<u64>().ok())
            .unwrap_or(0);
        let count = previous + 1;
        state::store("count", &count.to_string())?;
        ex.set_header("x-count", count);
        Ok(ex)
    }
}

export_plugin!(Counter);
