//! Plugin: sends the body text to the endpoint named by header `forward-to`
//! and replaces the body with the reply. With header `poll-timeout-ms` it
//! polls that endpoint instead (`camel-poll`). A host error is returned unchanged.

use camel_wasm_guest::prelude::*;

struct Forward;

impl Plugin for Forward {
    async fn process(mut ex: Exchange) -> Result<Exchange, Error> {
        let uri = ex.header_str("forward-to").ok_or_else(|| Error::processor("forward: missing header forward-to"))?;
        let reply = match ex.header::<u64>("poll-timeout-ms")? {
            Some(ms) => camel_wasm_guest::poll(uri, std::time::Duration::from_millis(ms)).await?,
            None => camel_wasm_guest::call(uri, ex.body().text().unwrap_or_default()).await?,
        };
        ex.set_body(reply);
        Ok(ex)
    }
}

export_plugin!(Forward);
