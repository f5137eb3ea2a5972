//! Plugin: the `upper` guest on raw wit-bindgen, without the SDK.
//!
//! Headers and properties are passed through as the wire strings they came
//! in as; only `x-processed-by` is set (replacing any earlier value).

wit_bindgen::generate!({ world: "plugin", path: "../../wit" });

use camel::plugin::types::WasmBody;

const HEADER: &str = "x-processed-by";
const NOT_TEXT: &str = "upper expects a text body";

struct RawUpper;

impl Guest for RawUpper {
    async fn process(mut exchange: WasmExchange) -> Result<WasmExchange, WasmError> {
        match &mut exchange.input.body {
            WasmBody::Text(text) => *text = text.to_uppercase(),
            WasmBody::Empty => {}
            _ => return Err(WasmError::TypeConversion(NOT_TEXT.into())),
        }
        let headers = &mut exchange.input.headers;
        headers.retain(|(key, _)| key != HEADER);
        headers.push((HEADER.into(), "raw-upper".into()));
        Ok(exchange)
    }

    fn init() -> Result<(), String> {
        Ok(())
    }
}

export!(RawUpper);
