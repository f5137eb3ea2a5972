//! Authorization policy `{{name}}`: grants callers with a subject.

use camel_wasm_guest::prelude::*;

struct {{Type}};

impl Policy for {{Type}} {
    fn evaluate(ex: &Exchange) -> Result<Decision, Error> {
        Ok(match ex.property_str("camel.auth.subject") {
            Some(_) => Decision::Grant,
            None => Decision::deny("{{name}}: no subject"),
        })
    }
}

export_policy!({{Type}});
