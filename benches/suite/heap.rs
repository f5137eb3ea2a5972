//! The suite's allocator: mimalloc, counting heap bytes only while asked, because resident
//! memory moves in pages and allocator segments, too coarse to see one idle endpoint.

use std::alloc::{GlobalAlloc, Layout};
use std::sync::atomic::{AtomicBool, AtomicIsize, Ordering::Relaxed};

/// mimalloc frees another thread's memory without a lock: with `isolation=per-call` an instance
/// made on the background thread is dropped on a caller's, where glibc's malloc waits on its arena lock.
pub struct Counting;

static ON: AtomicBool = AtomicBool::new(false);
static NET: AtomicIsize = AtomicIsize::new(0);

fn count(bytes: isize) {
    // The flag is only written around a measurement, so the timed sections read a shared line.
    if ON.load(Relaxed) {
        NET.fetch_add(bytes, Relaxed);
    }
}

// SAFETY: every call is passed to mimalloc unchanged; the counting touches no allocation.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { mimalloc::MiMalloc.alloc(layout) };
        if !p.is_null() {
            count(layout.size() as isize);
        }
        p
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { mimalloc::MiMalloc.alloc_zeroed(layout) };
        if !p.is_null() {
            count(layout.size() as isize);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { mimalloc::MiMalloc.dealloc(ptr, layout) };
        count(-(layout.size() as isize));
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { mimalloc::MiMalloc.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            count(new_size as isize - layout.size() as isize);
        }
        p
    }
}

/// Bytes the heap grew by (net of frees, on every thread) while `f` ran.
pub fn growth<R>(f: impl FnOnce() -> R) -> (R, isize) {
    NET.store(0, Relaxed);
    ON.store(true, Relaxed);
    let out = f();
    ON.store(false, Relaxed);
    (out, NET.load(Relaxed))
}
