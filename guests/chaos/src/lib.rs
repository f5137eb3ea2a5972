//! Plugin: misbehaves on request, for recovery and soak tests. The body names
//! what to do: `spin`, `alloc`, `recurse`, `panic` or `error`; any other text
//! body is upper-cased, and header `x-instance-calls` counts the calls this
//! instance has served (a guest static, so it shows instance reuse).

use camel_wasm_guest::prelude::*;
use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};

static CALLS: AtomicU64 = AtomicU64::new(0);

#[inline(never)]
fn descend(depth: u64) -> u64 {
    let frame = black_box([depth; 8]);
    descend(black_box(depth + 1)).wrapping_add(frame[7])
}

struct Chaos;

impl Plugin for Chaos {
    async fn process(mut ex: Exchange) -> Result<Exchange, Error> {
        match ex.body().text().unwrap_or_default() {
            "spin" => loop {
                black_box(0u64);
            },
            "alloc" => {
                let mut hoard = Vec::new();
                loop {
                    hoard.push(black_box(vec![0x5a_u8; 1 << 20]));
                }
            }
            "recurse" => {
                black_box(descend(0));
            }
            "panic" => panic!("chaos: asked to panic"),
            "error" => return Err(Error::processor("chaos: asked for an error")),
            _ => ex.body_mut().map_text(|t| t.to_uppercase())?,
        }
        ex.set_header("x-instance-calls", CALLS.fetch_add(1, Ordering::Relaxed) + 1);
        Ok(ex)
    }
}

export_plugin!(Chaos);
