//! Plugin: parses the body as a JSON object (a JSON body, or a text body
//! holding JSON), adds `"enriched": true` and `"enriched_by": "json-enrich"`,
//! and returns it as a JSON body. Anything else is a type-conversion error.

use camel_wasm_guest::prelude::*;

struct JsonEnrich;

impl Plugin for JsonEnrich {
    async fn process(mut ex: Exchange) -> Result<Exchange, Error> {
        let not_an_object = || Error::type_conversion("json-enrich expects a JSON object body");
        if !matches!(ex.body(), Body::Json(_) | Body::Text(_)) {
            return Err(not_an_object());
        }
        let Value::Object(mut object) = ex.body().json()? else {
            return Err(not_an_object());
        };
        object.insert("enriched".into(), true.into());
        object.insert("enriched_by".into(), "json-enrich".into());
        ex.body_mut().set_json(&object)?;
        Ok(ex)
    }
}

export_plugin!(JsonEnrich);
