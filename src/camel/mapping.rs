//! Mapping between rust-camel's `camel_api::Exchange` and camel-wasm's [`Exchange`].
//!
//! Headers and properties are `serde_json::Value`s on both sides and are
//! copied as they are, so the core rule carries over unchanged: a value the
//! guest did not change comes back exactly as it was, type included. Bodies
//! map variant to variant (`Bytes` ⇄ `Bytes`, `Json` ⇄ `Json`, ...), and a
//! `Stream` body stays a stream both ways, never read into memory here: its
//! chunks move to the guest as it reads them (bounded by the endpoint's
//! `max-stream-bytes`), and a stream the guest returns reaches the next step
//! as `Body::Stream`, drained as that step reads it. Authorization policies
//! decide without the body: a stream stays on the exchange, unread.
//!
//! Going back, the guest's exchange is written into the camel exchange in
//! place: messages, properties and pattern are replaced; the error state,
//! extensions (an authenticated principal, for instance), tracing context and
//! correlation id are left as they were.

use std::collections::BTreeMap;

use std::sync::Arc;

use camel_api::{
    Body as CamelBody, CamelError, Exchange as CamelExchange, ExchangePattern, Message as CamelMessage,
    StreamBody as CamelStreamBody, StreamMetadata,
};
use futures_util::StreamExt;
use futures_util::stream::BoxStream;

use super::error::CamelWasmError;
use crate::{Body, Exchange, Message, Pattern, StreamBody, StreamError};

/// Default bound for reading a stream reply (to a guest's `camel-call`) into memory: 10 MiB, rust-camel's materialize limit.
pub const DEFAULT_STREAM_LIMIT: usize = camel_api::body::DEFAULT_MATERIALIZE_LIMIT;

/// How camel exchanges are handed to guests and taken back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExchangeMapping {
    stream_limit: usize,
}

impl Default for ExchangeMapping {
    fn default() -> Self {
        Self { stream_limit: DEFAULT_STREAM_LIMIT }
    }
}

impl ExchangeMapping {
    /// A mapping that reads stream replies up to `stream_limit` bytes.
    pub fn new(stream_limit: usize) -> Self {
        Self { stream_limit }
    }

    /// The mapping an endpoint with `limits` uses: stream replies read up to its
    /// `max-stream-bytes`, and never more than its guest's `max-memory` could hold.
    pub fn for_limits(limits: &crate::Limits) -> Self {
        let bound = limits.max_stream_bytes.min(limits.max_memory);
        Self::new(usize::try_from(bound).unwrap_or(usize::MAX))
    }

    /// The largest stream reply read into memory, in bytes.
    pub fn stream_limit(&self) -> usize {
        self.stream_limit
    }

    /// The camel-wasm exchange for `exchange`, with `route_id` when known.
    ///
    /// A stream body's chunks move to the returned exchange (a stream is read
    /// once), which is why `exchange` is borrowed mutably.
    pub async fn to_wasm(&self, exchange: &mut CamelExchange, route_id: Option<&str>) -> Result<Exchange, CamelWasmError> {
        self.exchange_to_wasm(exchange, route_id, Streams::Move).await
    }

    /// The camel-wasm exchange an authorization policy sees: a stream body
    /// stays on `exchange`, unread, and reaches the policy as `Body::Empty`.
    pub async fn to_wasm_for_policy(&self, exchange: &mut CamelExchange) -> Result<Exchange, CamelWasmError> {
        self.exchange_to_wasm(exchange, None, Streams::Leave).await
    }

    /// The camel-wasm exchange a language reads: copied from `exchange`, which
    /// stays as it was; a stream body reaches the guest as `Body::Empty`, unread.
    pub fn to_wasm_read_only(&self, exchange: &CamelExchange) -> Result<Exchange, CamelWasmError> {
        let message = |message: &CamelMessage, what| -> Result<Message, CamelWasmError> {
            let body = plain_body(&message.body, what)?.unwrap_or(Body::Empty);
            Ok(Message { headers: copy_headers(message), body })
        };
        let input = message(&exchange.input, "input")?;
        let output = exchange.output.as_ref().map(|m| message(m, "output")).transpose()?;
        Ok(exchange_with(exchange, input, output, None))
    }

    async fn exchange_to_wasm(
        &self,
        exchange: &mut CamelExchange,
        route_id: Option<&str>,
        streams: Streams,
    ) -> Result<Exchange, CamelWasmError> {
        let input = message_to_wasm(&mut exchange.input, "input", streams).await?;
        let output = match exchange.output.as_mut() {
            Some(message) => Some(message_to_wasm(message, "output", streams).await?),
            None => None,
        };
        Ok(exchange_with(exchange, input, output, route_id))
    }

    /// Writes the exchange a guest returned into `target`: messages,
    /// properties and pattern; everything else on `target` stays.
    pub fn apply(&self, target: &mut CamelExchange, returned: Exchange) {
        target.input = message_to_camel(returned.input);
        target.output = returned.output.map(message_to_camel);
        target.properties = returned.properties.into_iter().collect();
        target.pattern = match returned.pattern {
            Pattern::InOnly => ExchangePattern::InOnly,
            Pattern::InOut => ExchangePattern::InOut,
        };
    }

    /// Reads `body` into memory, up to the bound.
    pub(crate) async fn read_stream(&self, body: CamelBody, what: &'static str) -> Result<bytes::Bytes, CamelWasmError> {
        body.into_bytes(self.stream_limit).await.map_err(|e| match e {
            CamelError::StreamLimitExceeded(limit) => CamelWasmError::StreamTooLarge { what, limit },
            other => CamelWasmError::StreamRead { what, reason: other.to_string() },
        })
    }
}

/// What happens to a camel stream body on its way to a guest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Streams {
    /// Its chunks move to the guest's exchange.
    Move,
    /// It stays where it is; the guest sees an empty body.
    Leave,
}

/// The camel-wasm exchange of `exchange`'s properties, pattern and correlation id, with these messages.
fn exchange_with(exchange: &CamelExchange, input: Message, output: Option<Message>, route_id: Option<&str>) -> Exchange {
    Exchange {
        input,
        output,
        properties: exchange.properties.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        pattern: match exchange.pattern {
            ExchangePattern::InOnly => Pattern::InOnly,
            ExchangePattern::InOut => Pattern::InOut,
        },
        correlation_id: exchange.correlation_id.clone(),
        route_id: route_id.map(str::to_owned),
        message_id: None,
    }
}

fn copy_headers(message: &CamelMessage) -> BTreeMap<String, serde_json::Value> {
    message.headers.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

/// A body that is not a stream, copied (`None` for a stream); an unsupported kind is an error.
fn plain_body(body: &CamelBody, what: &'static str) -> Result<Option<Body>, CamelWasmError> {
    Ok(Some(match body {
        CamelBody::Empty => Body::Empty,
        CamelBody::Text(s) => Body::Text(s.clone()),
        CamelBody::Bytes(b) => Body::Bytes(b.to_vec()),
        CamelBody::Json(v) => Body::Json(v.clone()),
        CamelBody::Xml(s) => Body::Xml(s.clone()),
        CamelBody::Stream(_) => return Ok(None),
        other => return Err(unsupported(other, what)),
    }))
}

fn unsupported(body: &CamelBody, what: &'static str) -> CamelWasmError {
    CamelWasmError::StreamRead { what, reason: format!("unsupported body kind {}", camel_api::body_type_name(body)) }
}

async fn message_to_wasm(message: &mut CamelMessage, what: &'static str, streams: Streams) -> Result<Message, CamelWasmError> {
    let body = body_to_wasm(&mut message.body, what, streams).await?;
    Ok(Message { headers: copy_headers(message), body })
}

async fn body_to_wasm(body: &mut CamelBody, what: &'static str, streams: Streams) -> Result<Body, CamelWasmError> {
    if let Some(plain) = plain_body(body, what)? {
        return Ok(plain);
    }
    Ok(match body {
        CamelBody::Stream(_) if streams == Streams::Leave => Body::Empty,
        CamelBody::Stream(camel) => {
            let chunks = camel
                .stream
                .lock()
                .await
                .take()
                .ok_or_else(|| CamelWasmError::StreamRead { what, reason: "the stream was already consumed".into() })?;
            let chunks = chunks.map(|chunk| chunk.map_err(|e| StreamError::Source(e.to_string())));
            let meta = &camel.metadata;
            let mut stream = StreamBody::new(chunks);
            stream.size_hint = meta.size_hint;
            stream.content_type = meta.content_type.clone();
            stream.origin = meta.origin.clone();
            Body::Stream(stream)
        }
        // `plain_body` took every other kind.
        other => return Err(unsupported(other, what)),
    })
}

fn message_to_camel(message: Message) -> CamelMessage {
    let mut out = CamelMessage::new(body_to_camel(message.body));
    out.headers = message.headers.into_iter().collect();
    out
}

// The chunk error type is rust-camel's `CamelError`, large but not ours to box.
#[allow(clippy::result_large_err)]
fn body_to_camel(body: Body) -> CamelBody {
    match body {
        Body::Empty => CamelBody::Empty,
        Body::Text(s) => CamelBody::Text(s),
        Body::Bytes(b) => CamelBody::Bytes(b.into()),
        Body::Json(v) => CamelBody::Json(v),
        Body::Xml(s) => CamelBody::Xml(s),
        Body::Stream(stream) => {
            let metadata = StreamMetadata {
                size_hint: stream.size_hint,
                content_type: stream.content_type.clone(),
                origin: stream.origin.clone(),
            };
            let chunks = stream.take().map(|chunks| -> BoxStream<'static, Result<bytes::Bytes, CamelError>> {
                Box::pin(chunks.map(|chunk| chunk.map_err(|e| CamelError::ProcessorError(e.to_string()))))
            });
            CamelBody::Stream(CamelStreamBody { stream: Arc::new(tokio::sync::Mutex::new(chunks)), metadata })
        }
    }
}
