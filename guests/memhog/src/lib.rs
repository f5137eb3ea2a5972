//! Plugin: `process` allocates 1 MiB blocks filled with non-zero bytes until
//! memory runs out. Used to test the host's memory limits.

use camel_wasm_guest::prelude::*;
use std::hint::black_box;

const MIB: usize = 1 << 20;

struct Memhog;

impl Plugin for Memhog {
    async fn process(_ex: Exchange) -> Result<Exchange, Error> {
        let mut hoard: Vec<Vec<u8>> = Vec::new();
        loop {
            hoard.push(black_box(vec![0xa5; MIB]));
            black_box(&hoard);
        }
    }
}

export_plugin!(Memhog);
