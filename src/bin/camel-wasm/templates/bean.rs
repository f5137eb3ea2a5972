//! Bean `{{name}}`: method `echo` returns the exchange unchanged.

use camel_wasm_guest::prelude::*;

struct {{Type}};

impl {{Type}} {
    async fn echo(ex: Exchange) -> Result<Exchange, Error> {
        Ok(ex)
    }
}

impl Bean for {{Type}} {
    const METHODS: &'static [Method] = bean_methods! {
        "echo" => Self::echo,
    };
}

export_bean!({{Type}});
