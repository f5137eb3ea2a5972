//! Plugin that leaves work behind:
//! - body `linger` returns at once, leaving a task that waits for
//!   `camel-call("hold:linger")` and then panics with `lingering: task left
//!   over from an earlier call`;
//! - body `hold` calls `hold:x` and returns its reply;
//! - any other body is upper-cased.
//!
//! The host must not let the left-over task run into (and fail) a later call.

use camel_wasm_guest::prelude::*;

struct Lingering;

impl Plugin for Lingering {
    async fn process(mut ex: Exchange) -> Result<Exchange, Error> {
        match ex.body().text().unwrap_or_default() {
            "linger" => {
                wit_bindgen::spawn_local(async {
                    let _ = camel_wasm_guest::call("hold:linger", "").await;
                    panic!("lingering: task left over from an earlier call");
                });
            }
            "hold" => {
                let reply = camel_wasm_guest::call("hold:x", "").await?;
                ex.set_body(reply);
            }
            _ => ex.body_mut().map_text(|t| t.to_uppercase())?,
        }
        Ok(ex)
    }
}

export_plugin!(Lingering);
