//! Plugin on raw wit-bindgen: returns the exchange with as many headers as
//! its body says (default 1900) whose names and values all point at the same
//! two strings in its memory (a 64 KiB value), as the canonical ABI allows.
//! The guest holds about 100 KiB; a host that copies each header holds
//! 64 KiB per header. A hostile guest for the host's bound on returned data.

wit_bindgen::generate!({ world: "plugin", path: "../../wit" });

use camel::plugin::types::WasmBody;

/// Bytes of the one value every header points at.
const VALUE_BYTES: usize = 64 * 1024;

struct AliasHeaders;

/// `count` strings sharing the bytes of `text`, which is leaked (never freed twice by its owners' drops).
fn aliases(text: String, count: usize) -> Vec<String> {
    let text = text.leak();
    // SAFETY: each String shares the leaked bytes. Their drops (after the
    // host copied them) free one buffer many times: this guest is hostile by
    // design and its instance is discarded by the host after the call.
    (0..count).map(|_| unsafe { String::from_raw_parts(text.as_mut_ptr(), text.len(), text.len()) }).collect()
}

impl Guest for AliasHeaders {
    async fn process(mut exchange: WasmExchange) -> Result<WasmExchange, WasmError> {
        let count = match &exchange.input.body {
            WasmBody::Text(text) => text.trim().parse().unwrap_or(1900),
            _ => 1900,
        };
        let names = aliases("x-alias".to_owned(), count);
        let values = aliases("v".repeat(VALUE_BYTES), count);
        exchange.input.headers = names.into_iter().zip(values).collect();
        Ok(exchange)
    }

    fn init() -> Result<(), String> {
        Ok(())
    }
}

export!(AliasHeaders);
