//! Stream bodies: [`StreamBody`], read with a [`BodyReader`] and produced by
//! [`StreamBody::from_fn`] through a [`ChunkWriter`].
//!
//! A WIT `stream<u8>` is a rendezvous with no buffer: a write completes only
//! when the reader takes the bytes, and the host starts reading a stream a
//! guest returns only after `process`/`invoke` has returned. So the bytes of a
//! returned stream must be written by a task that runs on after the return:
//! [`StreamBody::from_fn`] spawns that task (`wit_bindgen::spawn_local`),
//! closes the stream (end of file) when the producer is done and only then
//! resolves the terminal future, with the producer's error if it failed.
//!
//! The canonical built-ins that create a stream and a future are imported per
//! world (and per exported function), so the plugin, bean and source adapters
//! install their world's constructors ([`install`]) before each call; one
//! implementation serves all three worlds.
//!
//! Every spawned writer is counted until it has finished (end of file written
//! and terminal resolved, or the host hung up): [`drained`] waits for none to
//! be left, which a source's `run` does before it returns (the host may end
//! the instance once `run` has returned).
//!
//! One job per file: `body` (the [`StreamBody`] type), `reader`
//! ([`BodyReader`] over a [`reader::ChunkSource`]), `writer` ([`ChunkWriter`]
//! over a [`writer::ChunkSink`], and the writer task), `drain` (the count of
//! writers). The traits are the seams the unit tests (`tests.rs`) plug into.

use crate::bindings::types::WasmError;
use std::sync::OnceLock;
use wit_bindgen::{FutureReader, FutureWriter, StreamReader, StreamWriter};

mod body;
mod drain;
mod reader;
mod writer;

#[cfg(test)]
mod tests;

pub use body::StreamBody;
pub use drain::{drained, pending_writers};
pub use reader::BodyReader;
pub use writer::ChunkWriter;

/// The value of a stream body's terminal future.
pub(crate) type TerminalValue = Result<(), WasmError>;

/// The default chunk size of a [`BodyReader`]: 64 KiB.
pub const DEFAULT_CHUNK_SIZE: usize = 64 * 1024;

/// Creates a `stream<u8>` and a terminal `future` with one world's built-ins.
#[derive(Clone, Copy)]
pub(crate) struct Constructors {
    pub(crate) stream: fn() -> (StreamWriter<u8>, StreamReader<u8>),
    pub(crate) terminal: fn() -> (FutureWriter<TerminalValue>, FutureReader<TerminalValue>),
}

static CONSTRUCTORS: OnceLock<Constructors> = OnceLock::new();

/// Installs the current world's constructors (a component has one world, so
/// the first call wins and later ones are the same).
pub(crate) fn install(constructors: Constructors) {
    let _ = CONSTRUCTORS.set(constructors);
}

/// The installed constructors; panics outside a call that may create streams.
fn constructors() -> Constructors {
    *CONSTRUCTORS.get().expect(
        "camel-wasm-guest: a stream body can only be created while a plugin's \
         `process`, a bean's method or a source's `run` runs",
    )
}
