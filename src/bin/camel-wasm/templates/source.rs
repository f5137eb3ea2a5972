//! `{{name}}`: a camel-wasm source. It asks for one HTTP listener (config
//! `bind`, default 0.0.0.0:8080, and `path`) and submits each request as an
//! exchange: the request's headers and body, tagged `x-source: {{name}}`.

use camel_wasm_guest::prelude::*;

struct {{Type}};

impl Source for {{Type}} {
    async fn run(listener: Listener<'_>) -> Result<(), Error> {
        serve(&listener, async |req: Request| {
            let mut ex = req.into_exchange();
            ex.set_header("x-source", "{{name}}");
            Ok(ex)
        })
        .await
    }
}

export_source!({{Type}});
