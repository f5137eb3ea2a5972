//! Language `{{name}}`: a predicate and an expression for routes (`{{name}}.wasm#is-vip`).

use camel_wasm_guest::prelude::*;

struct {{Type}};

impl {{Type}} {
    fn is_vip(ex: &Exchange) -> Result<bool, Error> {
        Ok(ex.header_str("customer") == Some("vip"))
    }

    fn greeting(ex: &Exchange) -> Result<String, Error> {
        Ok(format!("hello, {}", ex.header_str("customer").unwrap_or("guest")))
    }
}

impl Language for {{Type}} {
    const ENTRIES: &'static [Entry] = entries! {
        predicate "is-vip" => Self::is_vip,
        expression "greeting" => Self::greeting,
    };
}

export_language!({{Type}});
