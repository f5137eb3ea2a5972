//! camel-wasm: run WebAssembly components as message processors, beans and
//! authorization policies inside integration routes.
//!
//! One [`Runtime`] holds the engine, the linker and every compiled file;
//! [`Plugin`], [`Bean`] and [`Policy`] are endpoints on a component of the
//! `plugin`, `bean` and `authorization-policy` worlds of `camel:plugin@1.0.0`;
//! a [`Source`] runs a `source`-world guest on an HTTP listener. Bodies may be
//! [`StreamBody`] streams, both ways. `host-store` state lives in a
//! [`StateStore`]: in memory, or in Redis ([`StateBackend`]) to share it across processes.
//! With the feature `rust-camel`, the `camel` module plugs them into a rust-camel `CamelContext`.
//!
//! ```no_run
//! use camel_wasm::{Exchange, Limits, Plugin, Runtime};
//!
//! # async fn demo() -> Result<(), camel_wasm::WasmError> {
//! let runtime = Runtime::builder().base_dir("guests/dist").build()?;
//! runtime.endpoints().register_fn("echo", |req| async move { Ok(req.payload) });
//! let upper = Plugin::from_uri(&runtime, "wasm:upper.wasm?timeout=5")?;
//! let out = upper.process(Exchange::new("hello").with_header("id", 7)).await?;
//! assert_eq!(out.input.body.as_text(), Some("HELLO"));
//! # Ok(()) }
//! ```

#[cfg(feature = "rust-camel")]
pub mod camel;
mod error;
mod exchange;
mod health;
mod host;
pub mod knobs;
mod limits;
mod metrics;
mod pool;
mod runtime;
mod service;
mod source;
mod state;
mod stream;
mod text;
mod worlds;

pub use error::{ConfigError, GuestError, LoadError, TrapReason, WasmError};
pub use exchange::{Body, ByteStream, Exchange, Message, Pattern, StreamBody, StreamError};
pub use health::HealthStatus;
pub use host::{
    CallAllowlist, CallError, CallKind, CallRequest, Endpoints, GuestCallGuard, HOST_OWNED_PREFIXES, PropertyBounds,
    PropertyError, is_host_owned,
};
pub use limits::{EndpointUri, Isolation, Limits};
pub use runtime::{CompileStats, ComponentInfo, ReloadOutcome, ReloadStats, ReloadWatcher, Runtime, RuntimeBuilder};
pub use service::PluginService;
#[cfg(feature = "auth")]
pub use source::KernelAuth;
pub use source::{
    AuthMode, AuthOptions, BoxError, DIRECT_REPLY_HEADER, ParameterKind, REQUEST_ID_HEADER, RESPONSE_CODE_HEADER, RunningSource,
    SOURCE_PARAMETERS, Source, SourceError, SourceOptions, SourceParameter, SubmitService, TokenSource,
};
pub use state::{MemoryStore, RedisStore, SharedState, StateBackend, StateBounds, StateError, StateStore};
pub use text::{escape_control, escape_control_json};
pub use worlds::bean::Bean;
pub use worlds::plugin::Plugin;
pub use worlds::policy::{Decision, PermissionRequest, Policy, Principal};
