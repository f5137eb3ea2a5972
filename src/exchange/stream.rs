//! [`StreamBody`]: a body that arrives chunk by chunk, read once, never held whole.

use std::fmt;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures_util::{Stream, StreamExt};

use crate::error::WasmError;

/// The chunks of a stream body: `Bytes`, then the end or one error.
pub type ByteStream = Pin<Box<dyn Stream<Item = Result<Bytes, StreamError>> + Send + 'static>>;

/// Why a stream body ended before its end.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StreamError {
    /// Whatever produced the stream (a file, an upstream step) failed.
    #[error("the stream's source failed: {0}")]
    Source(String),
    /// The stream went over `max-stream-bytes`.
    #[error("plugin '{plugin}': the stream went over max-stream-bytes ({max} bytes)")]
    TooLarge {
        /// The plugin whose limit it is.
        plugin: String,
        /// The limit.
        max: u64,
    },
    /// No chunk moved for `stream-idle-timeout`.
    #[error("plugin '{plugin}': the stream made no progress for {timeout:?} (stream-idle-timeout)")]
    Idle {
        /// The plugin whose stream stalled.
        plugin: String,
        /// The idle timeout.
        timeout: Duration,
    },
    /// The guest ended the stream with an error, trapped, or broke the stream protocol.
    #[error(transparent)]
    Plugin(#[from] WasmError),
    /// The stream was read already (a stream can be read once).
    #[error("the stream body was already consumed")]
    Consumed,
    /// The HTTP request this body belongs to was answered (or timed out) before its body was read.
    #[error("the HTTP request was answered {status} before its body was read: {reason}")]
    Ended {
        /// The status the edge answered with.
        status: u16,
        /// Why.
        reason: String,
    },
}

/// A body whose bytes arrive as a stream of chunks, with what is known of it.
///
/// Clones share the one stream: whichever takes it first reads it.
#[derive(Clone)]
pub struct StreamBody {
    chunks: Arc<Mutex<Option<ByteStream>>>,
    /// The expected total size, if known.
    pub size_hint: Option<u64>,
    /// The media type, if known.
    pub content_type: Option<String>,
    /// Where the bytes come from (a file name, a plugin), if known.
    pub origin: Option<String>,
}

impl StreamBody {
    /// A stream body over `chunks`.
    pub fn new(chunks: impl Stream<Item = Result<Bytes, StreamError>> + Send + 'static) -> Self {
        Self { chunks: Arc::new(Mutex::new(Some(Box::pin(chunks)))), size_hint: None, content_type: None, origin: None }
    }

    /// A stream body over an iterator of chunks (handy in tests and for data already in memory).
    pub fn from_chunks<I>(chunks: I) -> Self
    where
        I: IntoIterator<Item = Result<Bytes, StreamError>>,
        I::IntoIter: Send + 'static,
    {
        Self::new(futures_util::stream::iter(chunks))
    }

    /// Sets the size hint, builder style.
    pub fn with_size_hint(mut self, bytes: u64) -> Self {
        self.size_hint = Some(bytes);
        self
    }

    /// Sets the content type, builder style.
    pub fn with_content_type(mut self, content_type: impl Into<String>) -> Self {
        self.content_type = Some(content_type.into());
        self
    }

    /// Sets the origin, builder style.
    pub fn with_origin(mut self, origin: impl Into<String>) -> Self {
        self.origin = Some(origin.into());
        self
    }

    /// Takes the chunks out: `None` when this stream (or a clone) was taken already.
    pub fn take(&self) -> Option<ByteStream> {
        self.chunks.lock().unwrap_or_else(|p| p.into_inner()).take()
    }

    /// Whether the chunks were taken already.
    pub fn is_consumed(&self) -> bool {
        self.chunks.lock().unwrap_or_else(|p| p.into_inner()).is_none()
    }

    /// Reads the whole stream into memory, refusing more than `limit` bytes.
    pub async fn read_all(&self, limit: u64) -> Result<Bytes, StreamError> {
        let mut chunks = self.take().ok_or(StreamError::Consumed)?;
        let mut all = BytesMut::new();
        while let Some(chunk) = chunks.next().await {
            let chunk = chunk?;
            if all.len() as u64 + chunk.len() as u64 > limit {
                return Err(StreamError::TooLarge { plugin: self.origin.clone().unwrap_or_default(), max: limit });
            }
            all.extend_from_slice(&chunk);
        }
        Ok(all.freeze())
    }
}

impl fmt::Debug for StreamBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StreamBody")
            .field("size_hint", &self.size_hint)
            .field("content_type", &self.content_type)
            .field("origin", &self.origin)
            .field("consumed", &self.is_consumed())
            .finish()
    }
}

/// Two stream bodies are equal when they share one stream.
impl PartialEq for StreamBody {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.chunks, &other.chunks)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn read_all_collects_bounded_once() {
        let body = StreamBody::from_chunks([Ok(Bytes::from_static(b"ab")), Ok(Bytes::from_static(b"cd"))]);
        let clone = body.clone();
        assert_eq!(body, clone);
        assert_eq!(clone.read_all(4).await.unwrap(), Bytes::from_static(b"abcd"));
        assert!(body.is_consumed());
        assert_eq!(body.read_all(4).await, Err(StreamError::Consumed));
        let big = StreamBody::from_chunks([Ok(Bytes::from_static(b"abc"))]);
        assert!(matches!(big.read_all(2).await, Err(StreamError::TooLarge { max: 2, .. })));
    }

    #[tokio::test]
    async fn a_source_error_ends_the_read() {
        let body = StreamBody::from_chunks([Ok(Bytes::from_static(b"a")), Err(StreamError::Source("disk".into()))]);
        assert_eq!(body.read_all(10).await, Err(StreamError::Source("disk".into())));
    }
}
