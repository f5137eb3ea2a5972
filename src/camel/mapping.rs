//! Mapping between rust-camel's `camel_api::Exchange` and camel-wasm's [`Exchange`].
//!
//! Headers and properties are `serde_json::Value`s on both sides and are
//! copied as they are, so the core rule carries over unchanged: a value the
//! guest did not change comes back exactly as it was, type included. Bodies
//! map variant to variant (`Bytes` ⇄ `Bytes`, `Json` ⇄ `Json`, ...); a
//! `Stream` body is read into memory up to a bound (an error names the bound
//! above it) and continues as `Bytes`, on the guest's side and on the camel
//! exchange, since a stream can be read only once.
//!
//! Going back, the guest's exchange is written into the camel exchange in
//! place: messages, properties and pattern are replaced; the error state,
//! extensions (an authenticated principal, for instance), tracing context and
//! correlation id are left as they were.

use std::collections::BTreeMap;

use camel_api::{Body as CamelBody, CamelError, Exchange as CamelExchange, ExchangePattern, Message as CamelMessage};

use super::error::CamelWasmError;
use crate::{Body, Exchange, Message, Pattern};

/// Default bound for reading a stream body into memory: 10 MiB, rust-camel's materialize limit.
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
    /// A mapping that reads stream bodies up to `stream_limit` bytes.
    pub fn new(stream_limit: usize) -> Self {
        Self { stream_limit }
    }

    /// The mapping an endpoint with `limits` uses: streams read up to its `max-stream-bytes`.
    pub fn for_limits(limits: &crate::Limits) -> Self {
        Self::new(usize::try_from(limits.max_stream_bytes).unwrap_or(usize::MAX))
    }

    /// The largest stream body read into memory, in bytes.
    pub fn stream_limit(&self) -> usize {
        self.stream_limit
    }

    /// The camel-wasm exchange for `exchange`, with `route_id` when known.
    ///
    /// A stream body is read here (up to the bound) and left on `exchange` as
    /// `Bytes`, which is why `exchange` is borrowed mutably.
    pub async fn to_wasm(&self, exchange: &mut CamelExchange, route_id: Option<&str>) -> Result<Exchange, CamelWasmError> {
        let input = self.message_to_wasm(&mut exchange.input, "input").await?;
        let output = match exchange.output.as_mut() {
            Some(message) => Some(self.message_to_wasm(message, "output").await?),
            None => None,
        };
        Ok(Exchange {
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
        })
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

    async fn message_to_wasm(&self, message: &mut CamelMessage, what: &'static str) -> Result<Message, CamelWasmError> {
        let body = self.body_to_wasm(&mut message.body, what).await?;
        let headers: BTreeMap<_, _> = message.headers.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        Ok(Message { headers, body })
    }

    async fn body_to_wasm(&self, body: &mut CamelBody, what: &'static str) -> Result<Body, CamelWasmError> {
        Ok(match body {
            CamelBody::Empty => Body::Empty,
            CamelBody::Text(s) => Body::Text(s.clone()),
            CamelBody::Bytes(b) => Body::Bytes(b.to_vec()),
            CamelBody::Json(v) => Body::Json(v.clone()),
            CamelBody::Xml(s) => Body::Xml(s.clone()),
            CamelBody::Stream(_) => {
                let bytes = self.read_stream(std::mem::take(body), what).await?;
                *body = CamelBody::Bytes(bytes.clone());
                Body::Bytes(bytes.to_vec())
            }
            other => {
                return Err(CamelWasmError::StreamRead {
                    what,
                    reason: format!("unsupported body kind {}", camel_api::body_type_name(other)),
                });
            }
        })
    }

    /// Reads `body` into memory, up to the bound.
    pub(crate) async fn read_stream(&self, body: CamelBody, what: &'static str) -> Result<bytes::Bytes, CamelWasmError> {
        body.into_bytes(self.stream_limit).await.map_err(|e| match e {
            CamelError::StreamLimitExceeded(limit) => CamelWasmError::StreamTooLarge { what, limit },
            other => CamelWasmError::StreamRead { what, reason: other.to_string() },
        })
    }
}

fn message_to_camel(message: Message) -> CamelMessage {
    let mut out = CamelMessage::new(body_to_camel(message.body));
    out.headers = message.headers.into_iter().collect();
    out
}

fn body_to_camel(body: Body) -> CamelBody {
    match body {
        Body::Empty => CamelBody::Empty,
        Body::Text(s) => CamelBody::Text(s),
        Body::Bytes(b) => CamelBody::Bytes(b.into()),
        Body::Json(v) => CamelBody::Json(v),
        Body::Xml(s) => CamelBody::Xml(s),
    }
}
