//! Plugin: `process` never returns; it spins in a CPU-bound loop the
//! optimizer cannot remove. Used to test the host's CPU limits.

use camel_wasm_guest::prelude::*;
use std::hint::black_box;

struct Spin;

impl Plugin for Spin {
    async fn process(_ex: Exchange) -> Result<Exchange, Error> {
        let mut n: u64 = 0;
        loop {
            n = black_box(n).wrapping_add(1);
        }
    }
}

export_plugin!(Spin);
