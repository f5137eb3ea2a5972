//! Plugin: calls `set-property` `count` times (header, default 2048) with
//! distinct keys `p0`, `p1`, ... and values of `value-bytes` bytes (header,
//! default 1 MiB). The host must stop it at its property bounds.

use camel_wasm_guest::prelude::*;
use camel_wasm_guest::set_property;

struct PropFlood;

impl Plugin for PropFlood {
    async fn process(ex: Exchange) -> Result<Exchange, Error> {
        let count = ex.header::<u64>("count")?.unwrap_or(2048);
        let value = "v".repeat(ex.header::<u64>("value-bytes")?.unwrap_or(1 << 20) as usize);
        for i in 0..count {
            set_property(&format!("p{i}"), &value);
        }
        Ok(ex)
    }
}

export_plugin!(PropFlood);
