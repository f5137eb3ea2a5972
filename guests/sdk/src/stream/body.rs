//! [`StreamBody`]: a body delivered as a WIT stream, its constructors and the
//! [`Body`] helpers built on them.

use super::drain::PendingWriter;
use super::reader::{BodyReader, WitStream};
use super::writer::{ChunkWriter, WitSink, WitTerminal, drive};
use super::{TerminalValue, constructors};
use crate::bindings::types::StreamBodyHandle;
use crate::{Body, Error};
use std::fmt;
use wit_bindgen::{FutureReader, StreamReader};

/// A body delivered as a stream of bytes (the WIT `stream-body-handle`).
///
/// It cannot be cloned and has no text: read it, once, with
/// [`StreamBody::reader`] (or [`Body::into_reader`]). It may be returned
/// unread, which hands the stream back to the host. Two stream bodies are
/// equal only if they are the same value.
///
/// Create one with [`StreamBody::from_fn`] or [`StreamBody::from_chunks`] (or
/// [`Body::stream_from`], [`Body::stream_from_iter`]).
pub struct StreamBody {
    stream: StreamReader<u8>,
    terminal: FutureReader<TerminalValue>,
    /// The number of bytes the stream is expected to carry, if known.
    pub size_hint: Option<u64>,
    /// The content type of the bytes, if known.
    pub content_type: Option<String>,
    /// Where the stream comes from, if known (informational).
    pub origin: Option<String>,
}

impl StreamBody {
    /// A stream body whose bytes `producer` writes, chunk by chunk, into the
    /// [`ChunkWriter`] it is given.
    ///
    /// Returns at once: `producer` runs in a task spawned with
    /// `wit_bindgen::spawn_local`, which goes on after `process`/`invoke` has
    /// returned and the host reads the stream (writing inline would deadlock).
    /// When `producer` returns, the stream is closed (end of file) and then the
    /// terminal future resolves: `Ok` for `Ok(())`, or the producer's error
    /// after the bytes written so far. If the host drops the stream, writes
    /// fail ([`ChunkWriter::write`] returns an error; use `?` to stop) and the
    /// terminal resolves `Ok` quietly.
    ///
    /// May only be called while a plugin's `process`, a bean's method or a
    /// source's `run` runs (it panics elsewhere, e.g. in a policy, a source's
    /// `configure` or in native tests).
    ///
    /// ```no_run
    /// # use camel_wasm_guest::prelude::*;
    /// let body = StreamBody::from_fn(async |w: &mut ChunkWriter| {
    ///     for i in 0..3 {
    ///         w.write(format!("line {i}\n")).await?;
    ///     }
    ///     Ok(())
    /// })
    /// .with_content_type("text/plain");
    /// ```
    pub fn from_fn<F>(producer: F) -> StreamBody
    where
        F: AsyncFnOnce(&mut ChunkWriter) -> Result<(), Error> + 'static,
    {
        let constructors = constructors();
        let (writer, stream) = (constructors.stream)();
        let (terminal_writer, terminal) = (constructors.terminal)();
        let pending = PendingWriter::new();
        wit_bindgen::spawn_local(async move {
            drive(ChunkWriter::new(Box::new(WitSink(writer))), WitTerminal(terminal_writer), producer).await;
            drop(pending);
        });
        StreamBody { stream, terminal, size_hint: None, content_type: None, origin: None }
    }

    /// A stream body of the chunks `chunks` yields, produced lazily as
    /// [`StreamBody::from_fn`] does; an `Err` item ends the stream with that
    /// error.
    pub fn from_chunks<I>(chunks: I) -> StreamBody
    where
        I: IntoIterator<Item = Result<Vec<u8>, Error>>,
        I::IntoIter: 'static,
    {
        let chunks = chunks.into_iter();
        StreamBody::from_fn(async move |w: &mut ChunkWriter| {
            for chunk in chunks {
                w.write(chunk?).await?;
            }
            Ok(())
        })
    }

    /// Sets the size hint.
    pub fn with_size_hint(mut self, bytes: u64) -> Self {
        self.size_hint = Some(bytes);
        self
    }

    /// Sets the content type.
    pub fn with_content_type(mut self, content_type: impl Into<String>) -> Self {
        self.content_type = Some(content_type.into());
        self
    }

    /// Sets the origin.
    pub fn with_origin(mut self, origin: impl Into<String>) -> Self {
        self.origin = Some(origin.into());
        self
    }

    /// A reader of this stream, in chunks of up to [`DEFAULT_CHUNK_SIZE`](super::DEFAULT_CHUNK_SIZE) bytes.
    pub fn reader(self) -> BodyReader {
        BodyReader::new(Box::new(WitStream { stream: Some(self.stream), terminal: Some(self.terminal) }))
    }
}

impl fmt::Debug for StreamBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StreamBody")
            .field("size_hint", &self.size_hint)
            .field("content_type", &self.content_type)
            .field("origin", &self.origin)
            .finish_non_exhaustive()
    }
}

/// Identity: a stream body equals only itself (a stream cannot be compared by content).
impl PartialEq for StreamBody {
    fn eq(&self, other: &Self) -> bool {
        std::ptr::eq(self, other)
    }
}

impl Eq for StreamBody {}

impl From<StreamBodyHandle> for StreamBody {
    fn from(handle: StreamBodyHandle) -> Self {
        StreamBody {
            stream: handle.stream,
            terminal: handle.terminal,
            size_hint: handle.size_hint,
            content_type: handle.content_type,
            origin: handle.origin,
        }
    }
}

impl From<StreamBody> for StreamBodyHandle {
    fn from(body: StreamBody) -> Self {
        StreamBodyHandle {
            stream: body.stream,
            terminal: body.terminal,
            size_hint: body.size_hint,
            content_type: body.content_type,
            origin: body.origin,
        }
    }
}

impl From<StreamBody> for Body {
    fn from(body: StreamBody) -> Self {
        Body::Stream(body)
    }
}

impl Body {
    /// A reader of this body, chunk by chunk: a stream as it arrives, any other
    /// body's bytes from memory (nothing for [`Body::Empty`]).
    pub fn into_reader(self) -> BodyReader {
        match self {
            Body::Stream(stream) => stream.reader(),
            Body::Empty => BodyReader::memory(Vec::new()),
            Body::Bytes(data) => BodyReader::memory(data),
            Body::Text(s) | Body::Json(s) | Body::Xml(s) => BodyReader::memory(s.into_bytes()),
        }
    }

    /// A stream body whose bytes `producer` writes: see [`StreamBody::from_fn`].
    pub fn stream_from<F>(producer: F) -> Body
    where
        F: AsyncFnOnce(&mut ChunkWriter) -> Result<(), Error> + 'static,
    {
        StreamBody::from_fn(producer).into()
    }

    /// A stream body of the chunks `chunks` yields: see [`StreamBody::from_chunks`].
    pub fn stream_from_iter<I>(chunks: I) -> Body
    where
        I: IntoIterator<Item = Result<Vec<u8>, Error>>,
        I::IntoIter: 'static,
    {
        StreamBody::from_chunks(chunks).into()
    }
}
