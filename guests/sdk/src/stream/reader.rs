//! [`BodyReader`]: reads a body chunk by chunk from a [`ChunkSource`], a WIT
//! stream ([`WitStream`]) or bytes in memory ([`Memory`]).

use super::{DEFAULT_CHUNK_SIZE, TerminalValue};
use crate::Error;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use wit_bindgen::{FutureReader, StreamReader, StreamResult};

/// One step of a [`ChunkSource`]: a chunk (possibly empty), or the end with
/// the terminal's value.
pub(crate) enum Step {
    Chunk(Vec<u8>),
    End(Result<(), Error>),
}

/// What a [`BodyReader`] reads from (the seam the unit tests script).
pub(crate) trait ChunkSource {
    /// The next step, with a chunk of at most `max` bytes.
    fn step(&mut self, max: usize) -> Pin<Box<dyn Future<Output = Step> + '_>>;
}

/// A body in memory, handed out in chunks.
pub(crate) struct Memory {
    data: Vec<u8>,
    offset: usize,
}

impl ChunkSource for Memory {
    fn step(&mut self, max: usize) -> Pin<Box<dyn Future<Output = Step> + '_>> {
        let step = if self.offset >= self.data.len() {
            Step::End(Ok(()))
        } else if self.offset == 0 && self.data.len() <= max {
            self.offset = self.data.len();
            Step::Chunk(std::mem::take(&mut self.data))
        } else {
            let end = self.data.len().min(self.offset + max);
            let chunk = self.data[self.offset..end].to_vec();
            self.offset = end;
            Step::Chunk(chunk)
        };
        Box::pin(std::future::ready(step))
    }
}

/// A WIT stream and its terminal future (each `None` once consumed).
pub(crate) struct WitStream {
    pub(crate) stream: Option<StreamReader<u8>>,
    pub(crate) terminal: Option<FutureReader<TerminalValue>>,
}

impl ChunkSource for WitStream {
    fn step(&mut self, max: usize) -> Pin<Box<dyn Future<Output = Step> + '_>> {
        Box::pin(async move {
            if let Some(reader) = &mut self.stream {
                let (status, chunk) = reader.read(Vec::with_capacity(max)).await;
                match status {
                    StreamResult::Complete(_) => return Step::Chunk(chunk),
                    // The writer closed the stream (end of file).
                    StreamResult::Dropped | StreamResult::Cancelled => {
                        self.stream = None;
                        if !chunk.is_empty() {
                            return Step::Chunk(chunk);
                        }
                    }
                }
            }
            match self.terminal.take() {
                Some(terminal) => Step::End(terminal.await.map_err(Error::from)),
                None => Step::End(Ok(())),
            }
        })
    }
}

/// Reads a body chunk by chunk: a stream as it arrives, any other body from
/// memory. Get one with [`Body::into_reader`](crate::Body::into_reader) or
/// [`StreamBody::reader`](crate::StreamBody::reader).
///
/// At the end of a stream it awaits the stream's terminal future, so an error
/// the producer reported after the bytes it sent comes out of
/// [`BodyReader::next_chunk`] as `Some(Err(..))`. Dropping the reader drops
/// the stream, which tells its writer to stop.
pub struct BodyReader {
    /// `None`: the end was reached or an error returned.
    source: Option<Box<dyn ChunkSource>>,
    chunk_size: usize,
    bytes: u64,
    chunks: u64,
}

impl BodyReader {
    /// A reader of `source`, in chunks of up to [`DEFAULT_CHUNK_SIZE`] bytes.
    pub(crate) fn new(source: Box<dyn ChunkSource>) -> Self {
        BodyReader { source: Some(source), chunk_size: DEFAULT_CHUNK_SIZE, bytes: 0, chunks: 0 }
    }

    /// A reader of `data`, handed out from memory.
    pub(crate) fn memory(data: Vec<u8>) -> Self {
        BodyReader::new(Box::new(Memory { data, offset: 0 }))
    }

    /// Reads chunks of up to `bytes` bytes (at least 1) from now on.
    pub fn with_chunk_size(mut self, bytes: usize) -> Self {
        self.chunk_size = bytes.max(1);
        self
    }

    /// The next chunk (never empty); `None` at the end; `Some(Err(e))` once if
    /// the stream's producer failed (its terminal error), then `None`.
    pub async fn next_chunk(&mut self) -> Option<Result<Vec<u8>, Error>> {
        loop {
            let step = match &mut self.source {
                Some(source) => source.step(self.chunk_size).await,
                None => Step::End(Ok(())),
            };
            match step {
                Step::Chunk(chunk) if chunk.is_empty() => continue,
                Step::Chunk(chunk) => {
                    self.bytes += chunk.len() as u64;
                    self.chunks += 1;
                    return Some(Ok(chunk));
                }
                Step::End(end) => {
                    self.source = None;
                    return end.err().map(Err);
                }
            }
        }
    }

    /// Reads the rest into memory; fails if it is more than `limit` bytes
    /// (processor error `body larger than LIMIT bytes`) or if the stream failed.
    pub async fn read_all(mut self, limit: usize) -> Result<Vec<u8>, Error> {
        let mut all = Vec::new();
        while let Some(chunk) = self.next_chunk().await {
            let chunk = chunk?;
            if all.len() + chunk.len() > limit {
                return Err(Error::processor(format!("body larger than {limit} bytes")));
            }
            all.extend_from_slice(&chunk);
        }
        Ok(all)
    }

    /// Reads the rest, keeping nothing, and returns the total number of bytes
    /// read by this reader; fails if the stream failed.
    pub async fn count(mut self) -> Result<u64, Error> {
        while let Some(chunk) = self.next_chunk().await {
            chunk?;
        }
        Ok(self.bytes)
    }

    /// The bytes read so far.
    pub fn bytes_read(&self) -> u64 {
        self.bytes
    }

    /// The (non-empty) chunks read so far.
    pub fn chunks_read(&self) -> u64 {
        self.chunks
    }
}

impl fmt::Debug for BodyReader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BodyReader")
            .field("chunk_size", &self.chunk_size)
            .field("bytes_read", &self.bytes)
            .field("chunks_read", &self.chunks)
            .finish_non_exhaustive()
    }
}
