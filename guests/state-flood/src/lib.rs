//! Plugin: stores 1 KiB values under `k0`, `k1`, ... until the host store
//! refuses, and returns the host's error unchanged. Used to test the host's
//! state limits.

use camel_wasm_guest::prelude::*;

const MAX_KEYS: usize = 1_000_000;

struct StateFlood;

impl Plugin for StateFlood {
    async fn process(_ex: Exchange) -> Result<Exchange, Error> {
        let value = "x".repeat(1024);
        for i in 0..MAX_KEYS {
            state::store(&format!("k{i}"), &value)?;
        }
        Err(Error::processor("state-flood: no bound hit"))
    }
}

export_plugin!(StateFlood);
