//! Plugin `{{name}}`: marks the exchange with header `x-processed-by`.

use camel_wasm_guest::prelude::*;

struct {{Type}};

impl Plugin for {{Type}} {
    async fn process(mut ex: Exchange) -> Result<Exchange, Error> {
        ex.set_header("x-processed-by", "{{name}}");
        Ok(ex)
    }
}

export_plugin!({{Type}});
