//! Plugin `stdio-echo`: writes the body text, unchanged, to stderr (to stdout
//! with header `to: stdout`); with header `fail` it returns the body text as
//! its error instead. For tests of how guest-controlled text is logged and printed.

use camel_wasm_guest::prelude::*;
use std::io::Write;

struct StdioEcho;

impl Plugin for StdioEcho {
    async fn process(ex: Exchange) -> Result<Exchange, Error> {
        let text = ex.body().text().unwrap_or_default().to_string();
        if ex.header_str("fail").is_some() {
            return Err(Error::processor(text));
        }
        let written = match ex.header_str("to") {
            Some("stdout") => std::io::stdout().write_all(text.as_bytes()),
            _ => std::io::stderr().write_all(text.as_bytes()),
        };
        written.map_err(|e| Error::processor(format!("stdio-echo: {e}")))?;
        Ok(ex)
    }
}

export_plugin!(StdioEcho);
