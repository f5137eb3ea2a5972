//! Per-plugin limits and the `wasm:` endpoint URI that carries them.
//!
//! [`Limits::default`] is the one place that defines the defaults. The same
//! knobs are read from a URI query (`wasm:plugins/x.wasm?timeout=5`), from CLI
//! flags, and from a serde table (for example a `[limits]` block in TOML).
//! Unlike rust-camel, an unknown parameter, a zero or an unparsable value is
//! an error that names the parameter and the value.

use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::host::{CallAllowlist, PropertyBounds};
use crate::state::{StateBackend, StateBounds};

/// How instances are reused between calls.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Isolation {
    /// A bounded pool of warm instances; guest statics survive between calls.
    #[default]
    Reuse,
    /// A fresh instance for every call; nothing survives but `host-store` state.
    PerCall,
}

/// Limits and knobs of one plugin endpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct Limits {
    /// Wall-clock deadline of one call, host calls included (`timeout`, seconds).
    #[serde(serialize_with = "ser_secs", deserialize_with = "de_secs")]
    pub timeout: Duration,
    /// Largest linear memory a guest may grow to, in bytes (`max-memory`).
    pub max_memory: u64,
    /// Calls in flight at once; more callers wait (`max-concurrent`, rust-camel's `max-concurrent-calls`).
    #[serde(alias = "max-concurrent-calls")]
    pub max_concurrent: usize,
    /// Largest `.wasm` file accepted, in bytes (`max-wasm-size`).
    pub max_wasm_size: u64,
    /// Instance reuse (`isolation=reuse|per-call`).
    pub isolation: Isolation,
    /// Calls after which a warm instance is replaced (`recycle-after`).
    pub recycle_after: u64,
    /// Most keys in the endpoint's `host-store` state (`state-max-entries`, rust-camel's `max-kv-entries`).
    #[serde(alias = "max-kv-entries")]
    pub state_max_entries: usize,
    /// Longest `host-store` key, in bytes (`state-max-key-bytes`, rust-camel's `max-key-bytes`).
    #[serde(alias = "max-key-bytes")]
    pub state_max_key_bytes: usize,
    /// Longest `host-store` value, in bytes (`state-max-value-bytes`, rust-camel's `max-value-bytes`).
    #[serde(alias = "max-value-bytes")]
    pub state_max_value_bytes: usize,
    /// Endpoints `camel-call` / `camel-poll` may reach (`allow-call=log,direct:audit`); empty denies all.
    pub allow_call: CallAllowlist,
    /// Most distinct properties a guest may set in one call (`max-properties`).
    pub max_properties: usize,
    /// Most bytes (keys plus values) a guest may set as properties in one call (`max-property-bytes`).
    pub max_property_bytes: usize,
    /// Most core instances in one guest's store (`max-instances`).
    pub max_instances: u32,
    /// Most tables in one guest's store (`max-tables`).
    pub max_tables: u32,
    /// Most elements of all a guest's tables together (`max-table-elements`).
    pub max_table_elements: u64,
    /// Most bytes one stream body may carry, in either direction (`max-stream-bytes`).
    pub max_stream_bytes: u64,
    /// Failed calls in a row after which the endpoint reports unhealthy (`unhealthy-after`).
    pub unhealthy_after: u32,
    /// Where `host-store` state lives (`state=memory` or `state=redis://host:port/db`); none: the runtime's default.
    pub state: Option<StateBackend>,
    /// Names the state apart from other endpoints on the same plugin (`state-namespace`): endpoints
    /// with the same plugin and namespace share state; in Redis, the same plugin without one shares too.
    pub state_namespace: Option<String>,
    /// How long a stored key lives (`state-ttl`, seconds); none keeps it until overwritten.
    #[serde(serialize_with = "ser_opt_secs", deserialize_with = "de_opt_secs")]
    pub state_ttl: Option<Duration>,
    /// How long a stream may make no progress before it fails (`stream-idle-timeout`, seconds).
    #[serde(serialize_with = "ser_secs", deserialize_with = "de_secs")]
    pub stream_idle_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(30),
            max_memory: 50 * 1024 * 1024,
            max_concurrent: 16,
            max_wasm_size: 64 * 1024 * 1024,
            isolation: Isolation::Reuse,
            recycle_after: 10_000,
            state_max_entries: 1024,
            state_max_key_bytes: 256,
            state_max_value_bytes: 64 * 1024,
            allow_call: CallAllowlist::default(),
            max_properties: 256,
            max_property_bytes: 1024 * 1024,
            max_instances: 32,
            max_tables: 32,
            max_table_elements: 20_000,
            max_stream_bytes: 1024 * 1024 * 1024,
            stream_idle_timeout: Duration::from_secs(30),
            unhealthy_after: 5,
            state: None,
            state_namespace: None,
            state_ttl: None,
        }
    }
}

fn ser_secs<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

fn de_secs<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let secs = f64::deserialize(d)?;
    Duration::try_from_secs_f64(secs).map(|t| t.min(Limits::MAX_TIMEOUT)).map_err(serde::de::Error::custom)
}

fn ser_opt_secs<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => s.serialize_some(&d.as_secs_f64()),
        None => s.serialize_none(),
    }
}

fn de_opt_secs<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    match Option::<f64>::deserialize(d)? {
        Some(secs) => seconds(&secs.to_string()).map(Some).map_err(serde::de::Error::custom),
        None => Ok(None),
    }
}

/// A `state-namespace`: 1 to 128 bytes, no braces (they delimit the Redis hash tag) and no control characters.
fn namespace(value: &str) -> Result<String, &'static str> {
    if value.is_empty() || value.len() > 128 {
        return Err("must be 1 to 128 bytes");
    }
    if value.chars().any(|c| c == '{' || c == '}' || c.is_control()) {
        return Err("must not contain braces or control characters");
    }
    Ok(value.to_string())
}

/// A positive number of seconds; beyond [`Limits::MAX_TIMEOUT`] saturates.
pub(crate) fn seconds(value: &str) -> Result<Duration, &'static str> {
    let secs: f64 = value.trim().parse().map_err(|_| "expected seconds, such as 5 or 0.5")?;
    if !(secs > 0.0) {
        return Err("must be greater than zero");
    }
    // Beyond what a Duration holds, or beyond MAX_TIMEOUT: saturate.
    let duration = Duration::try_from_secs_f64(secs).unwrap_or(Limits::MAX_TIMEOUT).min(Limits::MAX_TIMEOUT);
    if duration.is_zero() {
        return Err("must be at least one nanosecond");
    }
    Ok(duration)
}

/// A bad configuration value, naming the parameter and the value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// The parameter is not one this host knows.
    #[error("unknown parameter '{name}' (known: {})", Limits::PARAMETERS.join(", "))]
    UnknownParameter {
        /// The parameter as given.
        name: String,
    },
    /// The value does not parse or is out of range.
    #[error("invalid value '{value}' for parameter '{name}': {reason}")]
    InvalidValue {
        /// The parameter.
        name: String,
        /// The value as given.
        value: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The same knob was given twice, possibly under its rust-camel name.
    #[error("parameter '{name}' is given twice (as '{first}' and as '{name}')")]
    DuplicateParameter {
        /// The second spelling given.
        name: String,
        /// The first spelling given.
        first: String,
    },
    /// The URI is not of the form `wasm:path?k=v&...`.
    #[error("invalid wasm endpoint uri '{uri}': {reason}")]
    InvalidUri {
        /// The URI as given.
        uri: String,
        /// What is wrong with it.
        reason: String,
    },
}

impl Limits {
    /// The longest timeout: larger values saturate to it (about a hundred years).
    pub const MAX_TIMEOUT: Duration = Duration::from_secs(100 * 365 * 24 * 3600);
    /// The most calls in flight one endpoint can allow (tokio's semaphore bound).
    pub const MAX_CONCURRENT: usize = tokio::sync::Semaphore::MAX_PERMITS;

    /// Every parameter name accepted by [`Limits::set`].
    pub const PARAMETERS: &'static [&'static str] = &[
        "timeout",
        "max-memory",
        "max-concurrent",
        "max-wasm-size",
        "isolation",
        "recycle-after",
        "state-max-entries",
        "state-max-key-bytes",
        "state-max-value-bytes",
        "allow-call",
        "max-properties",
        "max-property-bytes",
        "max-instances",
        "max-tables",
        "max-table-elements",
        "max-stream-bytes",
        "stream-idle-timeout",
        "unhealthy-after",
        "state",
        "state-namespace",
        "state-ttl",
    ];

    /// rust-camel 0.64's names for knobs this host spells differently: `(theirs, ours)`.
    pub const ALIASES: &'static [(&'static str, &'static str)] = &[
        ("max-concurrent-calls", "max-concurrent"),
        ("max-kv-entries", "state-max-entries"),
        ("max-key-bytes", "state-max-key-bytes"),
        ("max-value-bytes", "state-max-value-bytes"),
    ];

    /// This host's name for parameter `name` (itself, or the knob a rust-camel alias names).
    pub fn canonical_name(name: &str) -> &str {
        Self::ALIASES.iter().find(|(theirs, _)| *theirs == name).map_or(name, |(_, ours)| ours)
    }

    /// Sets the knob `name` (or its rust-camel alias) from its text form, as in a URI query or a CLI flag.
    pub fn set(&mut self, name: &str, value: &str) -> Result<(), ConfigError> {
        let invalid = |reason: &str| ConfigError::InvalidValue {
            name: name.to_string(),
            value: value.to_string(),
            reason: reason.to_string(),
        };
        let positive = |v: &str| -> Result<u64, ConfigError> {
            match v.trim().parse::<u64>() {
                Ok(0) => Err(invalid("must be greater than zero")),
                Ok(n) => Ok(n),
                Err(_) => Err(invalid("expected a positive whole number")),
            }
        };
        let to_usize = |n: u64| usize::try_from(n).map_err(|_| invalid("too large"));
        let to_u32 = |n: u64| u32::try_from(n).map_err(|_| invalid("too large (at most 4294967295)"));
        match Self::canonical_name(name) {
            "timeout" => self.timeout = seconds(value).map_err(|reason| invalid(reason))?,
            "stream-idle-timeout" => self.stream_idle_timeout = seconds(value).map_err(|reason| invalid(reason))?,
            "max-memory" => self.max_memory = positive(value)?,
            "max-concurrent" => {
                let n = to_usize(positive(value)?)?;
                Self::check_max_concurrent(n, name, value)?;
                self.max_concurrent = n;
            }
            "allow-call" => self.allow_call = value.parse().map_err(|e: String| invalid(&e))?,
            "max-properties" => self.max_properties = to_usize(positive(value)?)?,
            "max-property-bytes" => self.max_property_bytes = to_usize(positive(value)?)?,
            "max-instances" => self.max_instances = to_u32(positive(value)?)?,
            "max-tables" => self.max_tables = to_u32(positive(value)?)?,
            "max-table-elements" => self.max_table_elements = positive(value)?,
            "max-stream-bytes" => self.max_stream_bytes = positive(value)?,
            "unhealthy-after" => self.unhealthy_after = to_u32(positive(value)?)?,
            "max-wasm-size" => self.max_wasm_size = positive(value)?,
            "recycle-after" => self.recycle_after = positive(value)?,
            "state-max-entries" => self.state_max_entries = to_usize(positive(value)?)?,
            "state-max-key-bytes" => self.state_max_key_bytes = to_usize(positive(value)?)?,
            "state-max-value-bytes" => self.state_max_value_bytes = to_usize(positive(value)?)?,
            "state" => self.state = Some(value.parse().map_err(|e: String| invalid(&e))?),
            "state-namespace" => self.state_namespace = Some(namespace(value).map_err(|reason| invalid(reason))?),
            "state-ttl" => self.state_ttl = Some(seconds(value).map_err(|reason| invalid(reason))?),
            "isolation" => {
                self.isolation = match value {
                    "reuse" => Isolation::Reuse,
                    "per-call" => Isolation::PerCall,
                    _ => return Err(invalid("expected 'reuse' or 'per-call'")),
                }
            }
            _ => return Err(ConfigError::UnknownParameter { name: name.to_string() }),
        }
        Ok(())
    }

    /// Checks values that a serde table could set to zero.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let zero = |name: &str| ConfigError::InvalidValue {
            name: name.to_string(),
            value: "0".into(),
            reason: "must be greater than zero".into(),
        };
        Self::check_max_concurrent(self.max_concurrent, "max-concurrent", &self.max_concurrent.to_string())?;
        let checks: [(&str, bool); 16] = [
            ("unhealthy-after", self.unhealthy_after == 0),
            ("timeout", self.timeout.is_zero()),
            ("stream-idle-timeout", self.stream_idle_timeout.is_zero()),
            ("max-memory", self.max_memory == 0),
            ("max-concurrent", self.max_concurrent == 0),
            ("max-wasm-size", self.max_wasm_size == 0),
            ("recycle-after", self.recycle_after == 0),
            ("state-max-entries", self.state_max_entries == 0),
            ("state-max-key-bytes", self.state_max_key_bytes == 0),
            ("state-max-value-bytes", self.state_max_value_bytes == 0),
            ("max-properties", self.max_properties == 0),
            ("max-property-bytes", self.max_property_bytes == 0),
            ("max-instances", self.max_instances == 0),
            ("max-tables", self.max_tables == 0),
            ("max-table-elements", self.max_table_elements == 0),
            ("max-stream-bytes", self.max_stream_bytes == 0),
        ];
        if let Some((name, _)) = checks.iter().find(|(_, is_zero)| *is_zero) {
            return Err(zero(name));
        }
        if let Some(ns) = &self.state_namespace {
            namespace(ns).map_err(|reason| ConfigError::InvalidValue {
                name: "state-namespace".into(),
                value: ns.clone(),
                reason: reason.into(),
            })?;
        }
        Ok(())
    }

    /// Refuses a `max-concurrent` tokio's semaphore cannot hold (`name` and `value` as given).
    fn check_max_concurrent(n: usize, name: &str, value: &str) -> Result<(), ConfigError> {
        if n <= Self::MAX_CONCURRENT {
            return Ok(());
        }
        Err(ConfigError::InvalidValue {
            name: name.into(),
            value: value.to_string(),
            reason: format!("too large (at most {})", Self::MAX_CONCURRENT),
        })
    }

    /// The `set-property` bounds these limits set.
    pub fn property_bounds(&self) -> PropertyBounds {
        PropertyBounds { max_count: self.max_properties, max_bytes: self.max_property_bytes }
    }

    /// The deadline of a call starting at `start`: saturates instead of overflowing.
    pub(crate) fn deadline_from(&self, start: std::time::Instant) -> std::time::Instant {
        let timeout = self.timeout.min(Self::MAX_TIMEOUT);
        start.checked_add(timeout).unwrap_or_else(|| start + Duration::from_secs(365 * 24 * 3600))
    }

    /// The `host-store` bounds these limits set.
    pub fn state_bounds(&self) -> StateBounds {
        StateBounds {
            max_entries: self.state_max_entries,
            max_key_bytes: self.state_max_key_bytes,
            max_value_bytes: self.state_max_value_bytes,
        }
    }
}

/// A parsed `wasm:` endpoint URI: the module path and its limits.
#[derive(Debug, Clone, PartialEq)]
pub struct EndpointUri {
    /// The module path, relative to the runtime's base directory.
    pub path: String,
    /// Limits from the query, over the defaults.
    pub limits: Limits,
    /// The knobs the query set, by this host's names, in order.
    pub given: Vec<String>,
}

impl std::str::FromStr for EndpointUri {
    type Err = ConfigError;

    /// The URI over [`Limits::default`].
    fn from_str(uri: &str) -> Result<Self, ConfigError> {
        Self::parse_over(uri, Limits::default())
    }
}

impl EndpointUri {
    /// Parses `uri`, its query's parameters set one by one over `base`.
    pub fn parse_over(uri: &str, base: Limits) -> Result<Self, ConfigError> {
        let bad = |reason: &str| ConfigError::InvalidUri { uri: uri.to_string(), reason: reason.to_string() };
        let rest = uri.strip_prefix("wasm:").ok_or_else(|| bad("must start with 'wasm:'"))?;
        let rest = rest.strip_prefix("//").unwrap_or(rest);
        let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
        if path.is_empty() {
            return Err(bad("no module path"));
        }
        let mut limits = base;
        let mut seen: Vec<(&str, &str)> = Vec::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (name, value) = pair.split_once('=').ok_or_else(|| bad(&format!("parameter '{pair}' has no value")))?;
            let canonical = Limits::canonical_name(name);
            if let Some((first, _)) = seen.iter().find(|(_, c)| *c == canonical) {
                return Err(ConfigError::DuplicateParameter { name: name.to_string(), first: first.to_string() });
            }
            seen.push((name, canonical));
            limits.set(name, value)?;
        }
        let given = seen.into_iter().map(|(_, canonical)| canonical.to_string()).collect();
        Ok(Self { path: path.to_string(), limits, given })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_thirty_seconds_and_fifty_mib() {
        let l = Limits::default();
        assert_eq!(l.timeout, Duration::from_secs(30));
        assert_eq!(l.max_memory, 50 * 1024 * 1024);
        l.validate().unwrap();
    }

    #[test]
    fn parses_a_uri_with_knobs() {
        let uri: EndpointUri = "wasm:plugins/t.wasm?timeout=5&max-memory=1048576&isolation=per-call".parse().unwrap();
        assert_eq!(uri.path, "plugins/t.wasm");
        assert_eq!(uri.limits.timeout, Duration::from_secs(5));
        assert_eq!(uri.limits.max_memory, 1_048_576);
        assert_eq!(uri.limits.isolation, Isolation::PerCall);
    }

    #[test]
    fn bad_parameters_name_parameter_and_value() {
        let err = "wasm:t.wasm?timout=5".parse::<EndpointUri>().unwrap_err();
        assert!(err.to_string().contains("unknown parameter 'timout'"), "{err}");
        let err = "wasm:t.wasm?timeout=0".parse::<EndpointUri>().unwrap_err();
        assert_eq!(err.to_string(), "invalid value '0' for parameter 'timeout': must be greater than zero");
        let err = "wasm:t.wasm?max-memory=lots".parse::<EndpointUri>().unwrap_err();
        assert!(err.to_string().contains("'lots' for parameter 'max-memory'"), "{err}");
        assert!("file:t.wasm".parse::<EndpointUri>().is_err());
    }

    #[test]
    fn rust_camel_names_are_aliases_and_a_knob_given_twice_is_an_error() {
        let uri: EndpointUri =
            "wasm:p.wasm?max-concurrent-calls=2&max-kv-entries=9&max-key-bytes=10&max-value-bytes=11&allow-call=log"
                .parse()
                .unwrap();
        assert_eq!(uri.limits.max_concurrent, 2);
        assert_eq!(uri.limits.state_bounds(), StateBounds { max_entries: 9, max_key_bytes: 10, max_value_bytes: 11 });
        assert!(uri.limits.allow_call.allows("log:x"));
        let given = ["max-concurrent", "state-max-entries", "state-max-key-bytes", "state-max-value-bytes", "allow-call"];
        assert_eq!(uri.given, given, "the knobs set, by this host's names");
        let err = "wasm:p.wasm?max-concurrent=1&max-concurrent-calls=2".parse::<EndpointUri>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "parameter 'max-concurrent-calls' is given twice (as 'max-concurrent' and as 'max-concurrent-calls')"
        );
        assert!("wasm:p.wasm?timeout=1&timeout=2".parse::<EndpointUri>().is_err());
        assert!(matches!("wasm:p.wasm?max-kv=1".parse::<EndpointUri>(), Err(ConfigError::UnknownParameter { .. })));
    }

    #[test]
    fn state_knobs_parse_and_bad_ones_name_themselves() {
        let uri: EndpointUri = "wasm:c.wasm?state=redis://127.0.0.1:6379/0&state-namespace=orders&state-ttl=1.5".parse().unwrap();
        assert_eq!(uri.limits.state, Some(StateBackend::Redis("redis://127.0.0.1:6379/0".into())));
        assert_eq!(uri.limits.state_namespace.as_deref(), Some("orders"));
        assert_eq!(uri.limits.state_ttl, Some(Duration::from_millis(1500)));
        let err = "wasm:c.wasm?state=mysql://x".parse::<EndpointUri>().unwrap_err();
        assert!(err.to_string().starts_with("invalid value 'mysql://x' for parameter 'state'"), "{err}");
        let err = "wasm:c.wasm?state-namespace={x}".parse::<EndpointUri>().unwrap_err();
        assert!(err.to_string().contains("braces"), "{err}");
        let table: Limits = serde_json::from_str(r#"{"state": "memory", "state-ttl": 2}"#).unwrap();
        assert_eq!((table.state, table.state_ttl), (Some(StateBackend::Memory), Some(Duration::from_secs(2))));
        assert!(serde_json::from_str::<Limits>(r#"{"state": "nope"}"#).is_err());
    }

    #[test]
    fn a_serde_table_uses_the_same_knobs() {
        let limits: Limits = serde_json::from_str(r#"{"timeout": 2.5, "max-concurrent": 4, "state-max-entries": 9}"#).unwrap();
        assert_eq!(limits.timeout, Duration::from_millis(2500));
        assert_eq!(limits.max_concurrent, 4);
        assert_eq!(limits.state_max_entries, 9);
        assert_eq!(limits.max_memory, Limits::default().max_memory);
        assert!(serde_json::from_str::<Limits>(r#"{"bogus": 1}"#).is_err());
        let zero: Limits = serde_json::from_str(r#"{"max-memory": 0}"#).unwrap();
        assert!(zero.validate().unwrap_err().to_string().contains("max-memory"));
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn parsing_never_panics(uri in "wasm:[a-z/.]{0,12}(\\?[a-z=&0-9.-]{0,40})?") {
                let _ = uri.parse::<EndpointUri>();
            }

            #[test]
            fn valid_knobs_round_trip(
                timeout_ms in 1u64..1_000_000,
                max_memory in 1u64..u64::MAX / 2,
                max_concurrent in 1usize..10_000,
                entries in 1usize..100_000,
                per_call in any::<bool>(),
            ) {
                let isolation = if per_call { "per-call" } else { "reuse" };
                let secs = timeout_ms as f64 / 1000.0;
                let uri = format!(
                    "wasm:p.wasm?timeout={secs}&max-memory={max_memory}&max-concurrent={max_concurrent}&state-max-entries={entries}&isolation={isolation}"
                );
                let parsed: EndpointUri = uri.parse().unwrap();
                prop_assert_eq!(parsed.limits.timeout, Duration::from_secs_f64(secs));
                prop_assert_eq!(parsed.limits.max_memory, max_memory);
                prop_assert_eq!(parsed.limits.max_concurrent, max_concurrent);
                prop_assert_eq!(parsed.limits.state_max_entries, entries);
                prop_assert_eq!(parsed.limits.isolation == Isolation::PerCall, per_call);
            }

            #[test]
            fn an_unknown_parameter_is_always_named(name in "[a-z]{3,10}", value in "[0-9]{1,3}") {
                prop_assume!(!Limits::PARAMETERS.contains(&name.as_str()));
                let err = format!("wasm:p.wasm?{name}={value}").parse::<EndpointUri>().unwrap_err();
                prop_assert_eq!(err, ConfigError::UnknownParameter { name });
            }
        }
    }
}
