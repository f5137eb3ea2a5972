//! rust-camel's `Camel.toml` (camel-config 0.64), feature `camel-toml`:
//! WASM beans, permission providers, security policies and the `wasm`
//! component, all on one shared [`Runtime`](crate::Runtime).
//!
//! ```toml
//! [default.components.wasm]          # the `wasm` bundle: defaults for everything below
//! plugins-dir = "plugins"            # relative to the Camel.toml's directory
//! allow-call = "log,direct"          # endpoints guests may call; absent or empty denies all
//! [default.components.wasm.limits]   # camel-config's WasmLimitsConfig keys
//! timeout-secs = 10
//! max-concurrent-calls = 4
//!
//! [default.beans.text]               # `.bean("text", "reverse")`
//! plugin = "text-utils.wasm"         # relative to plugins-dir; `.wasm` added when missing
//! [default.beans.text.limits]
//! timeout-secs = 5
//!
//! [default.security.permissions.roles]   # a PermissionEvaluator named `roles`
//! provider = "wasm"
//! path = "role-check.wasm"
//! config = { role = "admin" }
//!
//! [default.security.policies.wasm.admins]  # a SecurityPolicy named `admins`
//! path = "role-check.wasm"
//! ```
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::{Arc, Mutex};
//! use camel_wasm::camel::register_camel_toml;
//!
//! let config = camel_wasm::camel::load_camel_toml("app/Camel.toml", None)?;
//! let beans = Arc::new(Mutex::new(camel_bean::BeanRegistry::new()));
//! let mut context = camel_core::CamelContext::builder().beans(beans.clone()).build().await?;
//! // Before or after other components; before the routes that use what it registers.
//! let wasm = register_camel_toml(&config, "app", &mut context, &beans).await?;
//! let evaluators = wasm.permission_evaluators(); // for SecurityCompileContext::with_evaluator_registry
//! let policies = wasm.security_policies();       // for SecurityCompileContext::with_security_policy_registry
//! # Ok(()) }
//! ```
//!
//! - [`TomlLimits`]: a `limits` table (`WasmLimitsConfig`) as [`Limits`](crate::Limits), `max-stream-bytes` included.
//! - [`WasmBundle`] / [`WasmBundleConfig`]: the `[components.wasm]` table, a rust-camel `ComponentBundle`.
//! - [`WasmRegistration`] / [`register_camel_toml`]: everything WASM a `CamelConfig` declares.
//! - [`load_camel_toml`]: camel-config's loader, also taking the README's `[security.permissions.providers.<name>]`.

mod bundle;
mod limits;
mod load;
mod registration;

pub use bundle::{DEFAULT_PLUGINS_DIR, WasmBundle, WasmBundleConfig};
pub use limits::TomlLimits;
pub use load::load_camel_toml;
pub use registration::{WasmRegistration, register_camel_toml};
