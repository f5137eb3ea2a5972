//! rust-camel integration (feature `rust-camel`): `wasm:` endpoints, WASM
//! beans and WASM policies in a real `camel_core::CamelContext`.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use camel_wasm::Runtime;
//! use camel_wasm::camel::WasmComponent;
//!
//! let mut context = camel_core::CamelContext::builder().build().await?;
//! context.register_component(camel_component_direct::DirectComponent::new());
//! let runtime = Runtime::builder().base_dir("guests/dist").build()?;
//! // `wasm:` endpoints; guests' camel-call reaches the context's components.
//! WasmComponent::register(&mut context, runtime);
//! # Ok(()) }
//! ```
//!
//! - [`WasmComponent`]: the `wasm` scheme (`wasm:upper.wasm?timeout=5`), with a
//!   [`WasmHealthCheck`] per endpoint and a back-pressured [`WasmProducer`].
//! - [`WasmSourceEndpoint`] / [`WasmSourceConsumer`]: a source guest starts a
//!   route (`from: wasm:hook.wasm?bind=127.0.0.1:8080&path=/hook`): route start
//!   binds its listener and runs it, each exchange it submits goes through the
//!   route (an in-out one's result is the HTTP response), route stop stops it.
//! - [`WasmBean`]: a bean-world guest for a `camel_bean::BeanRegistry`.
//! - [`WasmSecurityPolicy`] / [`WasmPermissionEvaluator`]: a policy guest as a
//!   `SecurityPolicy` and a `PermissionEvaluator`.
//! - [`WasmLanguage`]: the `wasm` language, a `language`-world guest's
//!   predicates and expressions in `filter`, `choice`, `set-header`, `set-body`
//!   and `split` (`source: "tiers.wasm#is-gold"`), a `choice` in one call.
//! - [`CamelEndpoints`]: a guest's `camel-call` / `camel-poll` through the
//!   context's components, and the same from Rust.
//! - [`ExchangeMapping`]: the lossless camel ⇄ camel-wasm exchange mapping.
//! - [`register_camel_toml`] / [`WasmRegistration`] (feature `camel-toml`):
//!   everything WASM a rust-camel `Camel.toml` declares; [`WasmBundle`] is the
//!   `[components.wasm]` table, [`TomlLimits`] a `limits` table.

mod bean;
mod calls;
mod component;
#[cfg(feature = "camel-toml")]
mod config;
mod endpoint;
mod error;
mod health;
mod language;
mod mapping;
mod observe;
mod policy;
mod producer;
mod source;

pub use bean::WasmBean;
pub use calls::{CamelCallService, CamelEndpoints, GUEST_CALL_PROPERTY};
pub use component::{WasmComponent, WasmComponentBuilder};
#[cfg(feature = "camel-toml")]
pub use config::{
    DEFAULT_PLUGINS_DIR, TomlLimits, WasmBundle, WasmBundleConfig, WasmRegistration, load_camel_toml, register_camel_toml,
};
pub use endpoint::WasmEndpoint;
pub use error::CamelWasmError;
pub use health::{LoadState, SOURCE_FAILURE_WINDOW, WasmHealthCheck};
pub use language::{LANGUAGE_NAME, Steps, WasmLanguage, WasmSteps, wasm};
pub use mapping::{DEFAULT_STREAM_LIMIT, ExchangeMapping};
pub use policy::{WasmPermissionEvaluator, WasmSecurityPolicy, principal_to_wasm};
pub use producer::WasmProducer;
pub use source::{WasmSourceConsumer, WasmSourceEndpoint};
