//! Authorization policy that always denies, saying what it saw:
//! - with property `call-uri`, it tries `camel-call` to that URI and denies
//!   with `call: <reply or error>` (the host must refuse policies' calls);
//! - otherwise it denies with `issuer=<camel.auth.issuer or none>`.

use camel_wasm_guest::prelude::*;

struct AuthProbe;

impl Policy for AuthProbe {
    fn evaluate(ex: &Exchange) -> Result<Decision, Error> {
        if let Some(uri) = ex.property_str("call-uri") {
            let uri = uri.to_owned();
            let outcome = wit_bindgen::block_on(async move { camel_wasm_guest::call(&uri, "probe").await });
            return Ok(Decision::deny(match outcome {
                Ok(reply) => format!("call: ok {reply}"),
                Err(e) => format!("call: {e}"),
            }));
        }
        let issuer = ex.property_str("camel.auth.issuer").unwrap_or("none");
        Ok(Decision::deny(format!("issuer={issuer}")))
    }
}

export_policy!(AuthProbe);
