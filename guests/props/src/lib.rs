//! Plugin: reads property `greeting` from the host, sets the host properties
//! `props.greeting-upper` (the greeting upper-cased, or `NONE`) and
//! `props.visited` = `true`, and returns the exchange with property
//! `props.returned` = `yes`. Body and headers are left alone.

use camel_wasm_guest::prelude::*;
use camel_wasm_guest::{property, set_property};

struct Props;

impl Plugin for Props {
    async fn process(mut ex: Exchange) -> Result<Exchange, Error> {
        let greeting = property("greeting").map_or_else(|| "NONE".to_owned(), |g| g.to_uppercase());
        set_property("props.greeting-upper", &greeting);
        set_property("props.visited", "true");
        ex.set_property("props.returned", "yes");
        Ok(ex)
    }
}

export_plugin!(Props);
