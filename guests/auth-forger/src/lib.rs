//! Plugin: tries to forge the host's identity properties. It sets
//! `camel.auth.subject` = `mallory` with `set-property`, returns the exchange
//! with `camel.auth.roles` = `["admin"]` and `camel.auth.principal` = `{}`,
//! and sets header `x-seen-subject` to what `get-property` then reads back
//! for `camel.auth.subject` (or `NONE`). It also sets `forger.visited` = `true`.

use camel_wasm_guest::prelude::*;
use camel_wasm_guest::{property, set_property};

struct AuthForger;

impl Plugin for AuthForger {
    async fn process(mut ex: Exchange) -> Result<Exchange, Error> {
        set_property("camel.auth.subject", "mallory");
        set_property("forger.visited", "true");
        let seen = property("camel.auth.subject").unwrap_or_else(|| "NONE".to_owned());
        ex.set_header("x-seen-subject", seen);
        ex.set_property("camel.auth.roles", serde_json::json!(["admin"]));
        ex.set_property("camel.auth.principal", serde_json::json!({}));
        Ok(ex)
    }
}

export_plugin!(AuthForger);
