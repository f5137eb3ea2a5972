//! Per-plugin limits and the `wasm:` endpoint URI that carries them.
//!
//! Every knob, with its default and bounds, is written once in
//! [`knobs::KNOBS`]; [`Limits`] is its typed form. The same knobs are read from a URI query (`wasm:plugins/x.wasm?timeout=5`), from CLI
//! flags, and from a serde table (for example a `[limits]` block in TOML).
//! Unlike rust-camel, an unknown parameter, a zero or an unparsable value is
//! an error that names the parameter and the value.

use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

pub use crate::error::ConfigError;
use crate::host::{CallAllowlist, PropertyBounds};
use crate::knobs::{self, DefaultValue, KNOBS, Knob};
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
    /// Every knob at its default in [`knobs::KNOBS`].
    fn default() -> Self {
        let mut limits = Self {
            timeout: Duration::ZERO,
            max_memory: 0,
            max_concurrent: 0,
            max_wasm_size: 0,
            isolation: Isolation::Reuse,
            recycle_after: 0,
            state_max_entries: 0,
            state_max_key_bytes: 0,
            state_max_value_bytes: 0,
            allow_call: CallAllowlist::default(),
            max_properties: 0,
            max_property_bytes: 0,
            max_instances: 0,
            max_tables: 0,
            max_table_elements: 0,
            max_stream_bytes: 0,
            stream_idle_timeout: Duration::ZERO,
            unhealthy_after: 0,
            state: None,
            state_namespace: None,
            state_ttl: None,
        };
        for knob in KNOBS {
            let field = limits.field(knob.name).expect("every knob has a field");
            field.reset(knob).expect("every default in KNOBS is valid");
        }
        limits
    }
}

/// One knob's field of [`Limits`], by type.
enum Field<'a> {
    Seconds(&'a mut Duration),
    OptionalSeconds(&'a mut Option<Duration>),
    U64(&'a mut u64),
    Usize(&'a mut usize),
    U32(&'a mut u32),
    Isolation(&'a mut Isolation),
    AllowCall(&'a mut CallAllowlist),
    State(&'a mut Option<StateBackend>),
    Namespace(&'a mut Option<String>),
}

impl Field<'_> {
    /// Sets the field from `value`, checked against `knob`'s bounds; the error is the reason.
    fn set(self, knob: &Knob, value: &str) -> Result<(), String> {
        let too_large = |_| "too large".to_string();
        match self {
            Field::Seconds(d) => *d = knobs::parse_seconds(value)?,
            Field::OptionalSeconds(d) => *d = Some(knobs::parse_seconds(value)?),
            Field::U64(n) => *n = knob.parse_number(value)?,
            Field::Usize(n) => *n = usize::try_from(knob.parse_number(value)?).map_err(too_large)?,
            Field::U32(n) => *n = u32::try_from(knob.parse_number(value)?).map_err(too_large)?,
            Field::Isolation(i) => *i = [Isolation::Reuse, Isolation::PerCall][knob.parse_choice(value)?],
            Field::AllowCall(list) => *list = value.parse()?,
            Field::State(state) => *state = Some(value.parse()?),
            Field::Namespace(ns) => {
                knobs::check_namespace(value)?;
                *ns = Some(value.to_string());
            }
        }
        Ok(())
    }

    /// Sets the field to `knob`'s default.
    fn reset(self, knob: &Knob) -> Result<(), String> {
        match (knob.default, self) {
            (DefaultValue::Number(n), field) => return field.set(knob, &n.to_string()),
            (DefaultValue::Word(word), field) => return field.set(knob, word),
            (DefaultValue::Unset(_), Field::OptionalSeconds(d)) => *d = None,
            (DefaultValue::Unset(_), Field::AllowCall(list)) => *list = CallAllowlist::default(),
            (DefaultValue::Unset(_), Field::State(state)) => *state = None,
            (DefaultValue::Unset(_), Field::Namespace(ns)) => *ns = None,
            (DefaultValue::Unset(_), _) => return Err(format!("{} cannot be unset", knob.name)),
        }
        Ok(())
    }

    /// The value in its text form; `None` when unset.
    fn text(&self) -> Option<String> {
        match self {
            Field::Seconds(d) => Some(d.as_secs_f64().to_string()),
            Field::OptionalSeconds(d) => d.map(|d| d.as_secs_f64().to_string()),
            Field::U64(n) => Some(n.to_string()),
            Field::Usize(n) => Some(n.to_string()),
            Field::U32(n) => Some(n.to_string()),
            Field::Isolation(Isolation::Reuse) => Some("reuse".into()),
            Field::Isolation(Isolation::PerCall) => Some("per-call".into()),
            Field::AllowCall(list) => Some(list.to_string()),
            Field::State(state) => state.as_ref().map(|s| s.to_string()),
            Field::Namespace(ns) => (**ns).clone(),
        }
    }

    /// Checks a value a serde table set: `Some(reason)` when it is out of `knob`'s bounds.
    fn check(&self, knob: &Knob) -> Option<String> {
        let number = |n: u64| knob.check_number(n).err();
        match self {
            Field::Seconds(d) if d.is_zero() => Some("must be greater than zero".into()),
            Field::U64(n) => number(**n),
            Field::Usize(n) => number(**n as u64),
            Field::U32(n) => number(u64::from(**n)),
            Field::Namespace(Some(ns)) => knobs::check_namespace(ns).err().map(str::to_string),
            _ => None,
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

/// A positive number of seconds; beyond [`Limits::MAX_TIMEOUT`] saturates.
pub(crate) fn seconds(value: &str) -> Result<Duration, &'static str> {
    knobs::parse_seconds(value)
}

impl Limits {
    /// The longest timeout: larger values saturate to it (about a hundred years).
    pub const MAX_TIMEOUT: Duration = knobs::MAX_SECONDS;
    /// The most calls in flight one endpoint can allow (tokio's semaphore bound).
    pub const MAX_CONCURRENT: usize = tokio::sync::Semaphore::MAX_PERMITS;

    /// Every parameter name accepted by [`Limits::set`], from [`knobs::KNOBS`].
    pub const PARAMETERS: &'static [&'static str] = &knobs::NAMES;

    /// rust-camel 0.64's names for knobs this host spells differently: `(theirs, ours)`.
    pub const ALIASES: &'static [(&'static str, &'static str)] = &knobs::ALIASES;

    /// This host's name for parameter `name` (itself, or the knob a rust-camel alias names).
    pub fn canonical_name(name: &str) -> &str {
        knobs::find(name).map_or(name, |knob| knob.name)
    }

    /// The field of knob `name` (this host's name).
    fn field(&mut self, name: &str) -> Option<Field<'_>> {
        Some(match name {
            "timeout" => Field::Seconds(&mut self.timeout),
            "max-memory" => Field::U64(&mut self.max_memory),
            "max-concurrent" => Field::Usize(&mut self.max_concurrent),
            "max-wasm-size" => Field::U64(&mut self.max_wasm_size),
            "isolation" => Field::Isolation(&mut self.isolation),
            "recycle-after" => Field::U64(&mut self.recycle_after),
            "state-max-entries" => Field::Usize(&mut self.state_max_entries),
            "state-max-key-bytes" => Field::Usize(&mut self.state_max_key_bytes),
            "state-max-value-bytes" => Field::Usize(&mut self.state_max_value_bytes),
            "allow-call" => Field::AllowCall(&mut self.allow_call),
            "max-properties" => Field::Usize(&mut self.max_properties),
            "max-property-bytes" => Field::Usize(&mut self.max_property_bytes),
            "max-instances" => Field::U32(&mut self.max_instances),
            "max-tables" => Field::U32(&mut self.max_tables),
            "max-table-elements" => Field::U64(&mut self.max_table_elements),
            "max-stream-bytes" => Field::U64(&mut self.max_stream_bytes),
            "stream-idle-timeout" => Field::Seconds(&mut self.stream_idle_timeout),
            "unhealthy-after" => Field::U32(&mut self.unhealthy_after),
            "state" => Field::State(&mut self.state),
            "state-namespace" => Field::Namespace(&mut self.state_namespace),
            "state-ttl" => Field::OptionalSeconds(&mut self.state_ttl),
            _ => return None,
        })
    }

    /// Sets the knob `name` (or its rust-camel alias) from its text form, as in a URI query or a CLI flag.
    pub fn set(&mut self, name: &str, value: &str) -> Result<(), ConfigError> {
        let unknown = || ConfigError::UnknownParameter { name: name.to_string() };
        let knob = knobs::find(name).ok_or_else(unknown)?;
        let field = self.field(knob.name).ok_or_else(unknown)?;
        field.set(knob, value).map_err(|reason| ConfigError::InvalidValue {
            name: name.to_string(),
            value: value.to_string(),
            reason,
        })
    }

    /// Knob `name`'s value in its text form, as [`set`](Self::set) takes it; `None` when unset or unknown.
    pub fn get(&self, name: &str) -> Option<String> {
        let knob = knobs::find(name)?;
        self.clone().field(knob.name)?.text()
    }

    /// Checks values that a serde table could set out of bounds (zero, for one).
    pub fn validate(&self) -> Result<(), ConfigError> {
        let mut copy = self.clone();
        for knob in KNOBS {
            let field = copy.field(knob.name).expect("every knob has a field");
            if let Some(reason) = field.check(knob) {
                let value = field.text().unwrap_or_default();
                return Err(ConfigError::InvalidValue { name: knob.name.to_string(), value, reason });
            }
        }
        Ok(())
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

    #[test]
    fn every_knob_parses_in_a_uri_and_defaults_as_the_table_says() {
        let defaults = Limits::default();
        for knob in KNOBS {
            for name in std::iter::once(&knob.name).chain(knob.aliases) {
                let uri: EndpointUri = format!("wasm:p.wasm?{name}={}", knob.example()).parse().unwrap();
                assert_ne!(uri.limits, defaults, "{name} sets nothing");
                assert_eq!(uri.limits.get(knob.name).as_deref(), Some(knob.example()), "{name}");
                assert_eq!(uri.given, [knob.name]);
            }
            let default = defaults.get(knob.name);
            match knob.default {
                DefaultValue::Number(n) => assert_eq!(default, Some(n.to_string()), "{}", knob.name),
                DefaultValue::Word(word) => assert_eq!(default.as_deref(), Some(word), "{}", knob.name),
                DefaultValue::Unset(_) => assert!(default.unwrap_or_default().is_empty(), "{}", knob.name),
            }
        }
        assert_eq!(Limits::PARAMETERS, knobs::NAMES);
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
