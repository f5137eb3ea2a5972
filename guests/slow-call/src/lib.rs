//! Plugin: sends the body text to the endpoint in header `call-uri` (default
//! `slow:wait`) and replaces the body with the reply; used to test timeouts.

use camel_wasm_guest::prelude::*;

struct SlowCall;

impl Plugin for SlowCall {
    async fn process(mut ex: Exchange) -> Result<Exchange, Error> {
        let uri = ex.header_str("call-uri").unwrap_or("slow:wait");
        let reply = camel_wasm_guest::call(uri, ex.body().text().unwrap_or_default()).await?;
        ex.set_body(reply);
        Ok(ex)
    }
}

export_plugin!(SlowCall);
