//! Plugin: `process` panics with `panicker: deliberate panic`. Used to test
//! how the host reports a trapped guest.

use camel_wasm_guest::prelude::*;

struct Panicker;

impl Plugin for Panicker {
    async fn process(_ex: Exchange) -> Result<Exchange, Error> {
        panic!("panicker: deliberate panic");
    }
}

export_plugin!(Panicker);
