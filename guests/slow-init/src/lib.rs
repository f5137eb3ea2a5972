//! Plugin: `init` spins until the host stops it; `process` (never reached
//! through a stopped init) returns the exchange unchanged. A hostile guest for
//! the spare instances' init deadline.

use camel_wasm_guest::prelude::*;

struct SlowInit;

impl Plugin for SlowInit {
    fn init() -> Result<(), String> {
        let mut n: u64 = 0;
        loop {
            n = std::hint::black_box(n.wrapping_add(1));
        }
    }

    async fn process(ex: Exchange) -> Result<Exchange, Error> {
        Ok(ex)
    }
}

export_plugin!(SlowInit);
