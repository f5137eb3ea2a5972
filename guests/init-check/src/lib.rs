//! Authorization policy: `init` requires config keys `tenant` and `issuer`;
//! `evaluate` grants when property `camel.auth.subject` is present.

use camel_wasm_guest::prelude::*;

const REQUIRED: &[&str] = &["tenant", "issuer"];

struct InitCheck;

impl Policy for InitCheck {
    fn init(config: Config) -> Result<(), String> {
        match config.missing(REQUIRED).as_slice() {
            [] => Ok(()),
            missing => Err(format!("init-check: missing required config key(s): {}", missing.join(", "))),
        }
    }

    fn evaluate(ex: &Exchange) -> Result<Decision, Error> {
        Ok(if ex.properties.contains("camel.auth.subject") { Decision::Grant } else { Decision::deny("init-check: no subject") })
    }
}

export_policy!(InitCheck);
