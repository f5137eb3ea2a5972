//! The `source` world's edge: the HTTP listener a source guest is granted
//! ([`http`], with [`auth`] and [`tls`]), and the guest's `source-host`
//! imports ([`imports`]). [`shared`] is what they and the supervisor
//! ([`crate::worlds::source`]) share. Unlike rust-camel, a guest may declare `concurrent(N)`,
//! and an `in-out` exchange it submits is answered with the route's result.

pub(crate) mod auth;
pub(crate) mod http;
mod imports;
mod options;
pub(crate) mod shared;
pub(crate) mod tls;

use std::time::Duration;

pub use self::http::RESPONSE_CODE_HEADER;
#[cfg(feature = "auth")]
pub use auth::KernelAuth;
#[cfg(feature = "auth")]
pub use auth::edge_principal;
pub(crate) use imports::add_to_linker;
pub use options::{AuthMode, AuthOptions, ParameterKind, SOURCE_PARAMETERS, SourceOptions, SourceParameter, TokenSource};
pub use shared::{BoxError, DIRECT_REPLY_HEADER, REQUEST_ID_HEADER, SubmitService};

pub(crate) use crate::bindings::ListenerHandle;
use crate::error::WasmError;

/// Why a source could not start, or stopped badly.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SourceError {
    /// Loading or instantiating the guest failed.
    #[error(transparent)]
    Wasm(#[from] WasmError),
    /// The guest's `configure` returned an error.
    #[error("source '{plugin}': configure failed: {reason}")]
    Configure {
        /// The plugin.
        plugin: String,
        /// The guest's error.
        reason: String,
    },
    /// The guest's plan is not one this host can grant.
    #[error("source '{plugin}': unsupported plan: {reason}")]
    Plan {
        /// The plugin.
        plugin: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The operator's bind (or path) and the guest's plan disagree.
    #[error("source '{plugin}': the {what} given ({operator}) and the guest's plan ({guest}) disagree")]
    Mismatch {
        /// The plugin.
        plugin: String,
        /// `bind` or `path`.
        what: &'static str,
        /// The operator's value.
        operator: String,
        /// The guest's value.
        guest: String,
    },
    /// Binding the listener failed (the port is in use, for instance), or needs an opt-in.
    #[error("source '{plugin}': cannot listen on {addr}: {reason}")]
    Bind {
        /// The plugin.
        plugin: String,
        /// The address.
        addr: String,
        /// Why.
        reason: String,
    },
    /// The source says nobody who may call it, or its authentication cannot be set up.
    #[error("source '{plugin}': authentication: {reason}")]
    Auth {
        /// The plugin.
        plugin: String,
        /// What is missing or wrong, and how to configure it.
        reason: String,
    },
    /// The certificate or key for HTTPS cannot be used.
    #[error("source '{plugin}': {reason}")]
    Tls {
        /// The plugin.
        plugin: String,
        /// Why.
        reason: String,
    },
    /// `run` did not end within the call timeout after `stop`.
    #[error("source '{plugin}': run did not end within {timeout:?} of stop; it was interrupted")]
    StopTimeout {
        /// The plugin.
        plugin: String,
        /// The grace it had.
        timeout: Duration,
    },
}
