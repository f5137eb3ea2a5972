//! camel-wasm: run WebAssembly components as message processors, beans and
//! authorization policies inside integration routes.
//!
//! One [`Runtime`] holds the engine, the linker and every compiled file;
//! [`Plugin`], [`Bean`] and [`Policy`] are endpoints on a component of the
//! `plugin`, `bean` and `authorization-policy` worlds of `camel:plugin@1.0.0`;
//! a [`Source`] runs a `source`-world guest on an HTTP listener; a
//! [`Language`] answers named predicates and expressions (`camel:language@1.0.0`). Bodies may be
//! [`StreamBody`] streams, both ways. `host-store` state lives in a
//! [`StateStore`]: in memory, or in Redis ([`StateBackend`]) to share it across processes.
//! With the feature `rust-camel`, the `camel` module plugs them into a rust-camel `CamelContext`
//! (and registers the `wasm` language).
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
//!
//! ## Layers
//!
//! The modules form one-way layers: a module imports only modules of its own
//! layer or lower ones, and no two modules import each other. `tests/layers.rs`
//! reads this table and every `crate::` / `super::` path in `src/`, and names
//! the file, the line and the rule an import breaks.
//!
//! | layer | name | modules | what it holds |
//! |---|---|---|---|
//! | 1 | model | `text`, `error`, `knobs`, `bindings`, `exchange`, `health`, `metrics` | errors, the knob table, the generated host bindings, exchanges and their wire form |
//! | 2 | capabilities | `host`, `state` | the host imports (calls and the allowlist, properties) and `host-store` state, each over its own context |
//! | 3 | configuration | `limits` | `Limits`, `EndpointUri`, stream bounds: each capability's config built from the knobs |
//! | 4 | store | `store` | a store's data, captured output, the background thread, trap classification |
//! | 5 | streams | `stream` | stream bodies into and out of a guest |
//! | 6 | edge | `source` | the source world's HTTP edge and its `source-host` imports |
//! | 7 | engine | `runtime` | the builder, compile, pre and disk caches, epochs, reload, the pool ledger |
//! | 8 | pool | `pool` | the `World` trait, the call path, instantiation, idle instances and spares |
//! | 9 | worlds | `worlds` | plugin (with its tower service), bean, policy, language, source, inspect |
//! | 10 | adapters | `camel`, `bin` | rust-camel and the CLI, through the public API only |

#![warn(missing_docs)]

mod bindings;
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
mod source;
mod state;
mod store;
mod stream;
mod text;
mod worlds;

pub use error::{ConfigError, GuestError, LoadError, TrapReason, WasmError};
pub use exchange::{Body, ByteStream, Exchange, HOST_OWNED_PREFIXES, Message, Pattern, StreamBody, StreamError, is_host_owned};
pub use health::HealthStatus;
pub use host::{CallAllowlist, CallError, CallKind, CallRequest, Endpoints, GuestCallGuard, PropertyBounds, PropertyError};
pub use limits::{EndpointUri, Isolation, Limits};
#[cfg(feature = "prometheus")]
pub use metrics::prometheus;
pub use metrics::{DURATION_BUCKETS, LATENCY_SERIES, Latency};
pub use runtime::{CompileStats, ReloadOutcome, ReloadStats, ReloadWatcher, Runtime, RuntimeBuilder};
pub use source::{
    AuthMode, AuthOptions, BoxError, DIRECT_REPLY_HEADER, ParameterKind, REQUEST_ID_HEADER, RESPONSE_CODE_HEADER,
    SOURCE_PARAMETERS, SourceError, SourceOptions, SourceParameter, SubmitService, TokenSource,
};
#[cfg(feature = "auth")]
pub use source::{KernelAuth, edge_principal};
pub use state::{MemoryStore, RedisStore, SharedState, StateBackend, StateBounds, StateError, StateStore};
pub use text::{escape_control, escape_control_json};
pub use worlds::bean::Bean;
pub use worlds::inspect::ComponentInfo;
pub use worlds::language::{Entry, EntryKind, Language, PredicateGroup};
pub use worlds::plugin::Plugin;
pub use worlds::plugin::service::PluginService;
pub use worlds::policy::{Decision, PermissionRequest, Policy, Principal};
pub use worlds::source::{ListenerPlan, RunningSource, Source};

#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
