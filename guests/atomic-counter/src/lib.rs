//! Plugin: counts its calls with the host's atomic increment
//! (`camel:state/counters`) and sets header `x-count` to the new count. Unlike
//! `counter`'s load-then-store, no update is lost under concurrent calls. With
//! header `x-pause-at`, it calls that endpoint first (tests line calls up with it).

use camel_wasm_guest::prelude::*;

struct AtomicCounter;

impl Plugin for AtomicCounter {
    async fn process(mut ex: Exchange) -> Result<Exchange, Error> {
        if let Some(uri) = ex.header_str("x-pause-at") {
            camel_wasm_guest::call(uri, "").await?;
        }
        let count = state::increment("count", 1)?;
        ex.set_header("x-count", count);
        Ok(ex)
    }
}

export_plugin!(AtomicCounter);
