//! The `[components.wasm]` table and the `wasm` [`ComponentBundle`].

use std::path::{Path, PathBuf};
use std::sync::Arc;

use camel_api::CamelError;
use camel_component_api::{ComponentBundle, ComponentRegistrar};
use camel_config::{CamelConfig, WasmLimitsConfig};
use camel_core::CamelContext;
use serde::Deserialize;

use super::limits::TomlLimits;
use crate::camel::calls::ContextParts;
use crate::camel::{CamelWasmError, WasmComponent};
use crate::{ConfigError, Runtime, SourceOptions};

/// Where plugins are looked for when `plugins-dir` is not set (rust-camel's default too).
pub const DEFAULT_PLUGINS_DIR: &str = "plugins";

/// The `[components.wasm]` table (`[default.components.wasm]` in a profiled Camel.toml).
///
/// ```toml
/// [default.components.wasm]
/// plugins-dir = "plugins"      # or rust-camel's `plugins_dir`
/// allow-call = "log,direct"    # default allowlist of every guest that may call
/// stream-idle-timeout = 30     # seconds a stream may make no progress
/// state = "redis://127.0.0.1:6379/0"   # host-store state for every endpoint (default "memory")
/// state-namespace = "orders"   # optional: keeps this app's state apart
/// state-ttl = 86400            # optional: seconds a stored key lives
/// [default.components.wasm.limits]
/// timeout-secs = 10            # any WasmLimitsConfig key
/// [default.components.wasm.source]
/// auth = "jwt"                 # any source parameter: the defaults of every source route
/// auth-jwks = "https://idp.example/jwks"
/// max-connections = 256
/// ```
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct WasmBundleConfig {
    /// The directory every plugin path is relative to (`plugins-dir`, also
    /// `plugins_dir`), itself relative to the bundle's root; default [`DEFAULT_PLUGINS_DIR`].
    #[serde(default, alias = "plugins_dir")]
    pub plugins_dir: Option<PathBuf>,
    /// Endpoints guests may call unless their own limits say otherwise
    /// (`allow-call = "log,direct:audit"`); absent or empty denies all. The
    /// same as `limits.allow-call-schemes`: give one or the other.
    #[serde(default)]
    pub allow_call: Option<String>,
    /// Seconds a stream body may make no progress before it fails
    /// (`stream-idle-timeout`; camel-config's limits table has no such key).
    #[serde(default)]
    pub stream_idle_timeout: Option<f64>,
    /// Where every endpoint keeps `host-store` state: `memory` (default) or a
    /// `redis://host:port/db` URL shared by every process using it (`state`).
    #[serde(default)]
    pub state: Option<String>,
    /// Names the state apart from other apps on the same plugins (`state-namespace`).
    #[serde(default)]
    pub state_namespace: Option<String>,
    /// Seconds a stored key lives (`state-ttl`); absent keeps it.
    #[serde(default)]
    pub state_ttl: Option<f64>,
    /// Defaults of every `wasm:` endpoint, bean, permission provider and policy.
    #[serde(default)]
    pub limits: WasmLimitsConfig,
    /// Source parameters every source route starts from (`auth`, `tls-cert`, `max-connections`, ...).
    #[serde(default)]
    pub source: std::collections::BTreeMap<String, toml::Value>,
}

impl WasmBundleConfig {
    /// The defaults this table sets, over [`TomlLimits::default`].
    pub fn defaults(&self) -> Result<TomlLimits, ConfigError> {
        if let (Some(_), Some(_)) = (&self.allow_call, &self.limits.allow_call_schemes) {
            return Err(ConfigError::DuplicateParameter { name: "allow-call".into(), first: "limits.allow-call-schemes".into() });
        }
        let mut defaults = TomlLimits::default().overlay(&self.limits)?;
        if let Some(list) = &self.allow_call {
            defaults.limits.set("allow-call", list)?;
        }
        if let Some(secs) = self.stream_idle_timeout {
            defaults.limits.set("stream-idle-timeout", &secs.to_string())?;
        }
        if let Some(url) = &self.state {
            defaults.limits.set("state", url)?;
        }
        if let Some(namespace) = &self.state_namespace {
            defaults.limits.set("state-namespace", namespace)?;
        }
        if let Some(secs) = self.state_ttl {
            defaults.limits.set("state-ttl", &secs.to_string())?;
        }
        Ok(defaults)
    }

    /// The source parameters the `source` table sets, over [`SourceOptions::default`].
    pub fn source_defaults(&self) -> Result<SourceOptions, ConfigError> {
        let mut options = SourceOptions::default();
        for (name, value) in &self.source {
            let text = match value {
                toml::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            if !options.set(name, &text)? {
                return Err(ConfigError::InvalidValue {
                    name: format!("source.{name}"),
                    value: text,
                    reason: "not a source parameter".into(),
                });
            }
        }
        Ok(options)
    }
}

/// The `wasm` component bundle: builds one [`Runtime`] on the plugins
/// directory and registers a [`WasmComponent`] whose `wasm:` URIs start
/// from the table's defaults.
///
/// Unlike rust-camel's, [`from_toml`](ComponentBundle::from_toml) works. A
/// relative `plugins-dir` is resolved against [`root`](Self::root) (the
/// Camel.toml's directory; default the current one). Give it the context
/// with [`context`](Self::context) so guests' `camel-call` reaches the
/// context's components: `register_all` only gets a registrar.
#[derive(Clone)]
pub struct WasmBundle {
    config: WasmBundleConfig,
    defaults: TomlLimits,
    source_defaults: SourceOptions,
    root: PathBuf,
    runtime: Option<Runtime>,
    context: Option<ContextParts>,
}

impl std::fmt::Debug for WasmBundle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WasmBundle")
            .field("plugins_dir", &self.plugins_dir())
            .field("defaults", &self.defaults)
            .field("runtime", &self.runtime)
            .finish_non_exhaustive()
    }
}

/// The entry name errors of the `[components.wasm]` table carry.
pub(super) const ENTRY: &str = "[components.wasm]";

fn entry_error(source: CamelWasmError) -> CamelWasmError {
    CamelWasmError::CamelToml { entry: ENTRY.into(), source: Box::new(source) }
}

impl WasmBundle {
    /// A bundle for `config`; a bad limit is an error naming the field.
    pub fn new(config: WasmBundleConfig) -> Result<Self, CamelWasmError> {
        let defaults = config.defaults().map_err(|e| entry_error(e.into()))?;
        let source_defaults = config.source_defaults().map_err(|e| entry_error(e.into()))?;
        Ok(Self { config, defaults, source_defaults, root: PathBuf::from("."), runtime: None, context: None })
    }

    /// The bundle for a `[components.wasm]` table; an unknown key or a bad value is an error naming it.
    pub fn from_value(value: toml::Value) -> Result<Self, CamelWasmError> {
        let config: WasmBundleConfig =
            value.try_into().map_err(|e: toml::de::Error| entry_error(CamelWasmError::InvalidEntry(e.message().to_string())))?;
        Self::new(config)
    }

    /// The bundle for `config`'s `[components.wasm]` table (the defaults when there is none).
    pub fn from_camel_config(config: &CamelConfig) -> Result<Self, CamelWasmError> {
        match config.components.raw.get(<Self as ComponentBundle>::config_key()) {
            Some(table) => Self::from_value(table.clone()),
            None => Self::new(WasmBundleConfig::default()),
        }
    }

    /// The directory a relative `plugins-dir` is resolved against: the Camel.toml's.
    pub fn root(mut self, dir: impl Into<PathBuf>) -> Self {
        self.root = dir.into();
        self
    }

    /// Loads everything on `runtime` instead of a new one (whose base directory then wins over `plugins-dir`).
    pub fn with_runtime(mut self, runtime: Runtime) -> Self {
        self.runtime = Some(runtime);
        self
    }

    /// Routes guests' `camel-call` / `camel-poll` to `context`'s components.
    pub fn context(mut self, context: &CamelContext) -> Self {
        self.context = Some(ContextParts::of(context));
        self
    }

    /// The table as parsed.
    pub fn config(&self) -> &WasmBundleConfig {
        &self.config
    }

    /// The plugins directory: `plugins-dir` (default [`DEFAULT_PLUGINS_DIR`]) under the root.
    pub fn plugins_dir(&self) -> PathBuf {
        let dir = self.config.plugins_dir.as_deref().unwrap_or(Path::new(DEFAULT_PLUGINS_DIR));
        self.root.join(dir)
    }

    /// The defaults of every `wasm:` endpoint, bean, permission provider and policy.
    pub fn defaults(&self) -> &TomlLimits {
        &self.defaults
    }

    /// The runtime given to [`with_runtime`](Self::with_runtime), or a new one on the plugins directory.
    pub fn runtime(&self) -> Result<Runtime, CamelWasmError> {
        match &self.runtime {
            Some(runtime) => Ok(runtime.clone()),
            None => Runtime::builder().base_dir(self.plugins_dir()).build().map_err(|e| entry_error(e.into())),
        }
    }

    /// The `wasm` component on `runtime`, with the table's defaults (and the context, when given).
    pub fn component(&self, runtime: Runtime) -> WasmComponent {
        let mut builder = WasmComponent::builder(runtime)
            .default_limits(self.defaults.limits.clone())
            .default_source(self.source_defaults.clone());
        if let Some(parts) = &self.context {
            builder = builder.context_parts(parts.clone());
        }
        builder.build()
    }
}

impl ComponentBundle for WasmBundle {
    fn config_key() -> &'static str {
        "wasm"
    }

    fn from_toml(value: toml::Value) -> Result<Self, CamelError> {
        Self::from_value(value).map_err(CamelError::from)
    }

    /// Registers the `wasm` component. The runtime is built here; if that
    /// fails (the engine cannot be created) the error is logged and no
    /// component is registered, so `wasm:` routes fail to resolve.
    fn register_all(self, ctx: &mut dyn ComponentRegistrar) {
        match self.runtime() {
            Ok(runtime) => ctx.register_component_dyn(Arc::new(self.component(runtime))),
            Err(err) => tracing::error!(error = %err, "the wasm component was not registered"),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn bundle(table: &str) -> Result<WasmBundle, CamelWasmError> {
        WasmBundle::from_value(toml::from_str(table).unwrap())
    }

    #[test]
    fn uri_parameters_override_the_table_defaults_one_by_one() {
        let b = bundle("plugins_dir = \"p\"\nallow-call = \"log\"\nstream-idle-timeout = 2.5\n[limits]\ntimeout-secs = 7\nmax-concurrent-calls = 3\nmax-stream-bytes = 99").unwrap();
        assert_eq!(b.defaults().limits.stream_idle_timeout, Duration::from_millis(2500));
        assert_eq!(b.plugins_dir(), Path::new("./p"));
        assert_eq!(b.defaults().limits.max_stream_bytes, 99);
        let component = b.component(Runtime::new().unwrap());
        let uri = "wasm:upper.wasm?max-concurrent-calls=2";
        let limits = component.endpoint_uri(uri).unwrap().0.limits;
        assert_eq!(limits.max_concurrent, 2, "the URI wins");
        assert_eq!(limits.timeout, Duration::from_secs(7), "the table's default stays");
        assert!(limits.allow_call.allows("log:x"));
        assert_eq!(component.default_limits().max_concurrent, 3);
    }

    #[test]
    fn the_source_table_sets_every_source_routes_defaults() {
        let b = bundle("[source]\nauth = \"none\"\nmax-connections = 64\nheader-read-timeout = 2.5\n").unwrap();
        let (_, options) =
            b.component(Runtime::builder().build().unwrap()).endpoint_uri("wasm:s.wasm?max-connections=8").unwrap();
        assert_eq!(options.auth.mode, Some(crate::AuthMode::None));
        assert_eq!(options.max_connections, 8, "the URI overrides the table");
        assert_eq!(options.header_read_timeout, Duration::from_millis(2500));
        let err = bundle("[source]\nauthh = \"none\"\n").unwrap_err().to_string();
        assert!(err.contains("source.authh"), "{err}");
    }

    #[test]
    fn the_table_chooses_where_state_lives() {
        let state = bundle("state = \"redis://127.0.0.1:6379/3\"\nstate-namespace = \"orders\"\nstate-ttl = 60").unwrap();
        let limits = &state.defaults().limits;
        assert_eq!(limits.state, Some(crate::StateBackend::Redis("redis://127.0.0.1:6379/3".into())));
        assert_eq!(limits.state_namespace.as_deref(), Some("orders"));
        assert_eq!(limits.state_ttl, Some(Duration::from_secs(60)));
        let err = bundle("state = \"memcached://x\"").unwrap_err().to_string();
        assert!(err.contains("'state'"), "{err}");
    }

    #[test]
    fn table_errors_name_the_key() {
        let err = bundle("[limits]\nfuel = 1").unwrap_err().to_string();
        assert!(err.starts_with("Camel.toml [components.wasm]: unknown field `fuel`"), "{err}");
        let err = bundle("plugin-dir = \"x\"").unwrap_err().to_string();
        assert!(err.contains("unknown field `plugin-dir`"), "{err}");
        let err = bundle("[limits]\nmax-memory = 0").unwrap_err().to_string();
        assert!(err.contains("invalid value '0' for parameter 'max-memory'"), "{err}");
        let err = bundle("allow-call = \"log\"\n[limits]\nallow-call-schemes = \"direct\"").unwrap_err().to_string();
        assert!(err.contains("'allow-call' is given twice"), "{err}");
        let err = <WasmBundle as ComponentBundle>::from_toml(toml::Value::Integer(1)).unwrap_err();
        assert!(matches!(err, CamelError::Config(_)), "{err:?}");
        assert!(<WasmBundle as ComponentBundle>::from_toml(toml::Value::Table(Default::default())).is_ok());
    }
}
