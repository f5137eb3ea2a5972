//! [`ChunkWriter`], writing into a [`ChunkSink`], and the writer task
//! ([`drive`]) that closes the stream, then resolves its [`TerminalSink`].

use super::TerminalValue;
use crate::Error;
use crate::bindings::types::WasmError;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use wit_bindgen::{FutureWriter, StreamWriter};

/// Where a [`ChunkWriter`] writes (the seam the unit tests record); dropping
/// it closes the stream (end of file).
pub(crate) trait ChunkSink {
    /// Writes `chunk`, waiting until the reader took it or hung up; returns
    /// how many bytes it did not take (0: all written).
    fn write(&mut self, chunk: Vec<u8>) -> Pin<Box<dyn Future<Output = usize> + '_>>;
}

/// A WIT `stream<u8>` writer.
pub(crate) struct WitSink(pub(crate) StreamWriter<u8>);

impl ChunkSink for WitSink {
    fn write(&mut self, chunk: Vec<u8>) -> Pin<Box<dyn Future<Output = usize> + '_>> {
        Box::pin(async move { self.0.write_all(chunk).await.len() })
    }
}

/// The writing end of a terminal future.
pub(crate) trait TerminalSink {
    /// Resolves the terminal with `value`.
    async fn resolve(self, value: Result<(), Error>);
}

/// A WIT terminal `future` writer.
pub(crate) struct WitTerminal(pub(crate) FutureWriter<TerminalValue>);

impl TerminalSink for WitTerminal {
    async fn resolve(self, value: Result<(), Error>) {
        // Fails harmlessly if the host dropped the terminal's reader.
        let _ = self.0.write(value.map_err(WasmError::from)).await;
    }
}

/// Where the producer of a [`StreamBody::from_fn`](crate::StreamBody::from_fn) writes its chunks.
pub struct ChunkWriter {
    sink: Box<dyn ChunkSink>,
    written: u64,
    closed: bool,
}

impl ChunkWriter {
    /// A writer into `sink`, nothing written yet.
    pub(crate) fn new(sink: Box<dyn ChunkSink>) -> Self {
        ChunkWriter { sink, written: 0, closed: false }
    }

    /// Writes `chunk`, waiting until the host has taken all of it.
    ///
    /// Fails with the I/O error `stream closed by the reader` if the host
    /// dropped the stream: stop producing then (`?` does it).
    pub async fn write(&mut self, chunk: impl Into<Vec<u8>>) -> Result<(), Error> {
        let chunk = chunk.into();
        if self.closed {
            return Err(closed());
        }
        if chunk.is_empty() {
            return Ok(());
        }
        let len = chunk.len();
        let unwritten = self.sink.write(chunk).await;
        self.written += (len - unwritten) as u64;
        if unwritten == 0 {
            Ok(())
        } else {
            self.closed = true;
            Err(closed())
        }
    }

    /// The bytes the host has taken so far.
    pub fn bytes_written(&self) -> u64 {
        self.written
    }

    /// Whether the host dropped the stream (writes fail).
    pub fn is_closed(&self) -> bool {
        self.closed
    }
}

impl fmt::Debug for ChunkWriter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChunkWriter").field("bytes_written", &self.written).field("closed", &self.closed).finish_non_exhaustive()
    }
}

/// The error of a write to a stream the reader dropped.
pub(crate) fn closed() -> Error {
    Error::io("stream closed by the reader")
}

/// The spawned writer task: runs `producer`, closes the stream, then resolves
/// the terminal (in that order: a terminal resolved before the end of file
/// lets the host cut the stream short).
pub(crate) async fn drive<T, F>(mut writer: ChunkWriter, terminal: T, producer: F)
where
    T: TerminalSink,
    F: AsyncFnOnce(&mut ChunkWriter) -> Result<(), Error>,
{
    let result = producer(&mut writer).await;
    // The host dropped the stream: nobody is listening, stop quietly.
    let result = if writer.closed { Ok(()) } else { result };
    drop(writer); // end of file
    terminal.resolve(result).await;
}
