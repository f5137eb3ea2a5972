//! Plugin: `process` recurses without bound (not a tail call, so every level
//! takes a stack frame). Used to test the host's stack limits.

use camel_wasm_guest::prelude::*;
use std::hint::black_box;

/// Recurses forever; each frame keeps a small array alive across the call.
#[inline(never)]
fn descend(depth: u64) -> u64 {
    let frame = black_box([depth; 8]);
    if black_box(depth == u64::MAX) {
        return frame[0];
    }
    descend(black_box(depth + 1)).wrapping_add(frame[7])
}

struct DeepRecursion;

impl Plugin for DeepRecursion {
    async fn process(ex: Exchange) -> Result<Exchange, Error> {
        black_box(descend(0));
        Ok(ex)
    }
}

export_plugin!(DeepRecursion);
