//! The exchange model a host application works with.
//!
//! Headers and properties hold JSON values; [`wire`] maps an exchange to and
//! from the guest's `wasm-exchange` without losing their types.

pub(crate) mod stream;
pub(crate) mod wire;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use stream::{ByteStream, StreamBody, StreamError};

/// Property prefixes only the host sets (the authenticated identity): a
/// guest's `set-property` of one is ignored, and in an exchange it returns or
/// submits they keep the host's values.
pub const HOST_OWNED_PREFIXES: &[&str] = &["camel.auth."];

/// Whether property `key` is the host's alone (see [`HOST_OWNED_PREFIXES`]).
pub fn is_host_owned(key: &str) -> bool {
    HOST_OWNED_PREFIXES.iter().any(|prefix| key.starts_with(prefix))
}

/// A message exchange flowing through a route.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Exchange {
    /// The incoming message.
    pub input: Message,
    /// The reply message, if one was set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<Message>,
    /// Exchange properties.
    #[serde(default)]
    pub properties: BTreeMap<String, Value>,
    /// Message exchange pattern.
    #[serde(default)]
    pub pattern: Pattern,
    /// Correlation id.
    #[serde(default)]
    pub correlation_id: String,
    /// Id of the route the exchange is on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub route_id: Option<String>,
    /// Id of the input message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
}

/// One message: headers and a body.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Message {
    /// Headers by name.
    #[serde(default)]
    pub headers: BTreeMap<String, Value>,
    /// The body.
    #[serde(default)]
    pub body: Body,
}

/// A message body.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Body {
    /// No body.
    #[default]
    Empty,
    /// UTF-8 text.
    Text(String),
    /// Raw bytes.
    Bytes(Vec<u8>),
    /// A JSON document.
    Json(Value),
    /// An XML document as text.
    Xml(String),
    /// Bytes that arrive chunk by chunk ([`StreamBody`]); never serialized.
    #[serde(skip)]
    Stream(StreamBody),
}

/// Message exchange pattern.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Pattern {
    /// One-way.
    #[default]
    InOnly,
    /// Request-reply.
    InOut,
}

impl Exchange {
    /// A new in-only exchange carrying `body`.
    pub fn new(body: impl Into<Body>) -> Self {
        Self {
            input: Message { headers: BTreeMap::new(), body: body.into() },
            output: None,
            properties: BTreeMap::new(),
            pattern: Pattern::InOnly,
            correlation_id: String::new(),
            route_id: None,
            message_id: None,
        }
    }

    /// Sets an input header, builder style.
    pub fn with_header(mut self, key: impl Into<String>, value: impl Into<Value>) -> Self {
        self.input.headers.insert(key.into(), value.into());
        self
    }

    /// Sets a property, builder style.
    pub fn with_property(mut self, key: impl Into<String>, value: impl Into<Value>) -> Self {
        self.properties.insert(key.into(), value.into());
        self
    }

    /// An input header.
    pub fn header(&self, key: &str) -> Option<&Value> {
        self.input.headers.get(key)
    }

    /// A property.
    pub fn property(&self, key: &str) -> Option<&Value> {
        self.properties.get(key)
    }
}

impl Body {
    /// The text of a `Text` or `Xml` body.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Body::Text(s) | Body::Xml(s) => Some(s),
            _ => None,
        }
    }

    /// The stream of a `Stream` body.
    pub fn as_stream(&self) -> Option<&StreamBody> {
        match self {
            Body::Stream(s) => Some(s),
            _ => None,
        }
    }

    /// The variant's name: `empty`, `text`, `bytes`, `json`, `xml` or `stream`.
    pub fn kind(&self) -> &'static str {
        match self {
            Body::Empty => "empty",
            Body::Text(_) => "text",
            Body::Bytes(_) => "bytes",
            Body::Json(_) => "json",
            Body::Xml(_) => "xml",
            Body::Stream(_) => "stream",
        }
    }
}

impl From<StreamBody> for Body {
    fn from(s: StreamBody) -> Self {
        Body::Stream(s)
    }
}

impl From<&str> for Body {
    fn from(s: &str) -> Self {
        Body::Text(s.to_string())
    }
}

impl From<String> for Body {
    fn from(s: String) -> Self {
        Body::Text(s)
    }
}

impl From<Value> for Body {
    fn from(v: Value) -> Self {
        Body::Json(v)
    }
}

impl From<Vec<u8>> for Body {
    fn from(b: Vec<u8>) -> Self {
        Body::Bytes(b)
    }
}
