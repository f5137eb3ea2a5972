//! Errors of the rust-camel integration and how they become `CamelError`s.

use std::sync::Arc;

use camel_api::{CamelError, OpaqueErrorSource};

use crate::{ConfigError, SourceError, WasmError};

/// Why a step of the rust-camel integration failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum CamelWasmError {
    /// A `wasm:` URI names an unknown parameter or a bad value (both are named).
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Loading or calling a guest failed.
    #[error(transparent)]
    Wasm(#[from] WasmError),
    /// A source could not start (its guest's configure, its plan, the bind), or stop in time.
    #[error(transparent)]
    Source(#[from] SourceError),
    /// A stream body is larger than the bound it may be read into memory up to.
    #[error("the {what} body is a stream larger than the {limit}-byte limit (raise it with max-stream-bytes)")]
    StreamTooLarge {
        /// Which body: `input`, `output` or `reply`.
        what: &'static str,
        /// The bound, in bytes.
        limit: usize,
    },
    /// A stream body could not be read.
    #[error("the {what} body stream could not be read: {reason}")]
    StreamRead {
        /// Which body: `input`, `output` or `reply`.
        what: &'static str,
        /// The stream's error.
        reason: String,
    },
    /// An endpoint a guest called answered with bytes that are not UTF-8.
    #[error(
        "endpoint '{uri}' replied with a body that is not valid UTF-8 (first invalid byte at offset {offset}); \
         a camel-call reply must be text"
    )]
    NonUtf8Reply {
        /// The endpoint called.
        uri: String,
        /// Where the first invalid byte is.
        offset: usize,
    },
    /// The URI has no `scheme:` prefix.
    #[error("invalid endpoint uri '{0}': expected 'scheme:path'")]
    InvalidUri(String),
    /// No component of the CamelContext handles the URI's scheme.
    #[error("no rust-camel component registered for scheme '{scheme}' (uri '{uri}')")]
    UnknownScheme {
        /// The scheme looked up.
        scheme: String,
        /// The URI asked for.
        uri: String,
    },
    /// The endpoint does not support the pull model `camel-poll` needs.
    #[error("endpoint '{uri}' cannot be polled: it has no polling consumer")]
    NotPollable {
        /// The URI asked for.
        uri: String,
    },
    /// An entry of a rust-camel `Camel.toml` could not be used: names the entry and the cause.
    #[error("Camel.toml {entry}: {source}")]
    CamelToml {
        /// The entry: `bean 'text'`, `permission provider 'roles'`, `security policy 'corp'` or `[components.wasm]`.
        entry: String,
        /// The cause: a bad limit naming the field ([`Config`](Self::Config)), a load
        /// error naming the path ([`Wasm`](Self::Wasm)), or [`InvalidEntry`](Self::InvalidEntry).
        source: Box<CamelWasmError>,
    },
    /// A `Camel.toml` entry that does not parse or cannot be registered (an
    /// unknown key, a wrong type, a missing `path`, a bean name already taken).
    #[error("{0}")]
    InvalidEntry(String),
    /// The camel endpoint failed (creating it, or processing the exchange).
    #[error("endpoint '{uri}' failed: {source}")]
    Endpoint {
        /// The URI asked for.
        uri: String,
        /// rust-camel's error.
        source: Box<CamelError>,
    },
}

impl From<CamelWasmError> for CamelError {
    fn from(err: CamelWasmError) -> Self {
        match err {
            CamelWasmError::Config(e) => CamelError::InvalidUri(e.to_string()),
            err @ (CamelWasmError::CamelToml { .. } | CamelWasmError::InvalidEntry(_)) => CamelError::Config(err.to_string()),
            CamelWasmError::InvalidUri(uri) => CamelError::InvalidUri(format!("expected 'scheme:path', got '{uri}'")),
            CamelWasmError::UnknownScheme { scheme, .. } => CamelError::ComponentNotFound(scheme),
            CamelWasmError::Endpoint { source, .. } => *source,
            CamelWasmError::Wasm(WasmError::Load(e)) => {
                let message = e.to_string();
                CamelError::EndpointCreationFailedWithSource(message, OpaqueErrorSource::new(Arc::new(e)))
            }
            // A source's start error fails its route's start: its consumer could not be set up.
            CamelWasmError::Source(e) => {
                let message = e.to_string();
                CamelError::EndpointCreationFailedWithSource(message, OpaqueErrorSource::new(Arc::new(e)))
            }
            other => CamelError::ProcessorErrorWithSource(other.to_string(), Arc::new(other)),
        }
    }
}

/// A guest call's error as the `CamelError` a route sees, the typed [`WasmError`] kept as its source.
pub(crate) fn wasm_to_camel(err: WasmError) -> CamelError {
    CamelWasmError::Wasm(err).into()
}
