//! Plugin on raw wit-bindgen: returns the exchange with as many headers as
//! its body says (default 1900) whose names and values all point at the same
//! two strings in its memory (a 64 KiB value), as the canonical ABI allows.
//! The guest holds about 100 KiB; a host that copies each header holds
//! 64 KiB per header. A hostile guest for the host's bound on returned data.

wit_bindgen::generate!({ world: "plugin", path: "../../wit" });

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use camel::plugin::types::WasmBody;

/// Bytes of the one value every header points at.
const VALUE_BYTES: usize = 64 * 1024;

struct AliasHeaders;

/// The system allocator, except that it never frees the shared buffers (their many owners each drop them).
struct KeepShared;

/// Start addresses of the shared buffers (at most two).
static SHARED: [AtomicUsize; 2] = [AtomicUsize::new(0), AtomicUsize::new(0)];

unsafe impl GlobalAlloc for KeepShared {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if SHARED.iter().any(|s| s.load(Ordering::Relaxed) == ptr as usize) {
            return;
        }
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: KeepShared = KeepShared;

/// `count` strings sharing the bytes of `text`, which is never freed (slot `slot` of [`SHARED`]).
fn aliases(text: String, count: usize, slot: usize) -> Vec<String> {
    let text = text.leak();
    SHARED[slot].store(text.as_ptr() as usize, Ordering::Relaxed);
    // SAFETY: every String shares the leaked bytes, and the allocator ignores their frees.
    (0..count).map(|_| unsafe { String::from_raw_parts(text.as_mut_ptr(), text.len(), text.len()) }).collect()
}

impl Guest for AliasHeaders {
    async fn process(mut exchange: WasmExchange) -> Result<WasmExchange, WasmError> {
        let count = match &exchange.input.body {
            WasmBody::Text(text) => text.trim().parse().unwrap_or(1900),
            _ => 1900,
        };
        let names = aliases("x-alias".to_owned(), count, 0);
        let values = aliases("v".repeat(VALUE_BYTES), count, 1);
        exchange.input.headers = names.into_iter().zip(values).collect();
        Ok(exchange)
    }

    fn init() -> Result<(), String> {
        Ok(())
    }
}

export!(AliasHeaders);
