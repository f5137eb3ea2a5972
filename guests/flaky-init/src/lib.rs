//! Plugin: `init` counts its attempts in the host store (`init-attempts`) and
//! fails the first one; `process` sets header `x-init-attempts` to the count.

use camel_wasm_guest::prelude::*;

const ATTEMPTS: &str = "init-attempts";

/// The number of init attempts so far.
fn attempts() -> Result<u64, Error> {
    Ok(state::load(ATTEMPTS)?.and_then(|n| n.parse().ok()).unwrap_or(0))
}

struct FlakyInit;

impl Plugin for FlakyInit {
    fn init() -> Result<(), String> {
        let attempt = attempts().map_err(|e| e.to_string())? + 1;
        state::store(ATTEMPTS, &attempt.to_string()).map_err(|e| e.to_string())?;
        match attempt {
            1 => Err("flaky-init: first init always fails".into()),
            _ => Ok(()),
        }
    }

    async fn process(mut ex: Exchange) -> Result<Exchange, Error> {
        ex.set_header("x-init-attempts", attempts()?);
        Ok(ex)
    }
}

export_plugin!(FlakyInit);
