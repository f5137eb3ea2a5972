//! camel-config's `WasmLimitsConfig` as camel-wasm [`Limits`].

use camel_config::WasmLimitsConfig;

use crate::knobs::{self, Knob, TomlKey};
use crate::{ConfigError, Limits};

/// What a Camel.toml `limits` table configures: the guest's [`Limits`].
///
/// Every field of camel-config's `WasmLimitsConfig` lands somewhere:
///
/// Which field sets which knob is the knob table's ([`knobs::TomlKey::Limits`]):
///
/// | `WasmLimitsConfig` | here |
/// |---|---|
/// | `timeout-secs` | `limits.timeout` |
/// | `max-memory`, `max-wasm-size` | `limits.max_memory`, `limits.max_wasm_size` |
/// | `max-concurrent-calls` | `limits.max_concurrent` |
/// | `allow-call-schemes` | `limits.allow_call` (comma list; empty denies all) |
/// | `max-instances`, `max-tables`, `max-table-elements` | the same `limits` fields |
/// | `max-kv-entries`, `max-key-bytes`, `max-value-bytes` | `limits.state_max_entries`, `limits.state_max_key_bytes`, `limits.state_max_value_bytes` |
/// | `max-stream-bytes` | `limits.max_stream_bytes`: the most bytes of one stream body, either way |
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TomlLimits {
    /// The guest's limits.
    pub limits: Limits,
}

impl TomlLimits {
    /// `table` over these limits: a field that is set replaces its knob, a `None` keeps this value.
    ///
    /// Each value is checked by [`Limits::set`], as a `wasm:` URI parameter
    /// is (zero is refused, for one); an error names the table's field
    /// (`max-concurrent-calls`, `timeout-secs`) and the value.
    pub fn overlay(&self, table: &WasmLimitsConfig) -> Result<Self, ConfigError> {
        // No `..`: a field camel-config adds fails to compile here instead of being ignored.
        let WasmLimitsConfig {
            timeout_secs,
            max_memory,
            max_concurrent_calls,
            max_wasm_size,
            allow_call_schemes,
            max_stream_bytes,
            max_instances,
            max_tables,
            max_table_elements,
            max_kv_entries,
            max_key_bytes,
            max_value_bytes,
        } = table;
        let fields = [
            ("timeout-secs", text(timeout_secs)),
            ("max-memory", text(max_memory)),
            ("max-concurrent-calls", text(max_concurrent_calls)),
            ("max-wasm-size", text(max_wasm_size)),
            ("allow-call-schemes", text(allow_call_schemes)),
            ("max-stream-bytes", text(max_stream_bytes)),
            ("max-instances", text(max_instances)),
            ("max-tables", text(max_tables)),
            ("max-table-elements", text(max_table_elements)),
            ("max-kv-entries", text(max_kv_entries)),
            ("max-key-bytes", text(max_key_bytes)),
            ("max-value-bytes", text(max_value_bytes)),
        ];
        let mut out = self.clone();
        for (field, value) in fields {
            // The knob table says which knob each field sets.
            let knob = knob_of(field).ok_or_else(|| ConfigError::UnknownParameter { name: field.into() })?;
            set(&mut out.limits, field, knob.name, value)?;
        }
        Ok(out)
    }
}

impl TryFrom<&WasmLimitsConfig> for TomlLimits {
    type Error = ConfigError;

    /// The table over [`TomlLimits::default`].
    fn try_from(table: &WasmLimitsConfig) -> Result<Self, ConfigError> {
        Self::default().overlay(table)
    }
}

impl TryFrom<&WasmLimitsConfig> for Limits {
    type Error = ConfigError;

    /// The table over [`Limits::default`] (`max-stream-bytes` included).
    fn try_from(table: &WasmLimitsConfig) -> Result<Self, ConfigError> {
        Ok(TomlLimits::try_from(table)?.limits)
    }
}

/// The knob a `WasmLimitsConfig` field (kebab-case) sets, from [`knobs::KNOBS`].
fn knob_of(field: &str) -> Option<&'static Knob> {
    knobs::KNOBS.iter().find(|knob| matches!(knob.toml, TomlKey::Limits(key) if key == field))
}

/// A field's value in the text form [`Limits::set`] takes.
fn text<T: ToString>(value: &Option<T>) -> Option<String> {
    value.as_ref().map(T::to_string)
}

/// Sets knob `knob` from the field `field`, when set; an error names `field`.
fn set(limits: &mut Limits, field: &str, knob: &str, value: Option<String>) -> Result<(), ConfigError> {
    let Some(value) = value else { return Ok(()) };
    limits.set(knob, &value).map_err(|err| match err {
        ConfigError::InvalidValue { value, reason, .. } => ConfigError::InvalidValue { name: field.into(), value, reason },
        other => other,
    })
}

/// Refuses, for a policy guest, what a policy cannot honour: it may never
/// call an endpoint, and (`reads_bodies == false`, a permission evaluator)
/// never sees a body.
pub(super) fn check_policy_table(table: &WasmLimitsConfig, reads_bodies: bool) -> Result<(), ConfigError> {
    if let Some(schemes) = table.allow_call_schemes.as_deref().filter(|s| !s.trim().is_empty()) {
        return Err(ConfigError::InvalidValue {
            name: "allow-call-schemes".into(),
            value: schemes.into(),
            reason: "a policy guest may never call an endpoint; leave it out (or empty)".into(),
        });
    }
    if let (Some(bytes), false) = (table.max_stream_bytes, reads_bodies) {
        return Err(ConfigError::InvalidValue {
            name: "max-stream-bytes".into(),
            value: bytes.to_string(),
            reason: "a permission evaluator's guest never sees a body; leave it out".into(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn every_field_lands_on_its_knob() {
        let table = WasmLimitsConfig {
            timeout_secs: Some(5),
            max_memory: Some(1 << 20),
            max_concurrent_calls: Some(2),
            max_wasm_size: Some(1 << 22),
            allow_call_schemes: Some("log,direct".into()),
            max_stream_bytes: Some(4096),
            max_instances: Some(8),
            max_tables: Some(9),
            max_table_elements: Some(1000),
            max_kv_entries: Some(10),
            max_key_bytes: Some(11),
            max_value_bytes: Some(12),
        };
        let out = TomlLimits::try_from(&table).unwrap();
        let l = &out.limits;
        assert_eq!(l.timeout, Duration::from_secs(5));
        assert_eq!((l.max_memory, l.max_concurrent, l.max_wasm_size), (1 << 20, 2, 1 << 22));
        assert!(l.allow_call.allows("log:x") && l.allow_call.allows("direct:a") && !l.allow_call.allows("mock:a"));
        assert_eq!((l.max_instances, l.max_tables, l.max_table_elements), (8, 9, 1000));
        assert_eq!((l.state_max_entries, l.state_max_key_bytes, l.state_max_value_bytes), (10, 11, 12));
        assert_eq!(out.limits.max_stream_bytes, 4096);
        assert_eq!(Limits::try_from(&table).unwrap().max_stream_bytes, 4096);
    }

    #[test]
    fn none_keeps_the_base_and_empty_schemes_deny_all() {
        let base = TomlLimits { limits: Limits { max_concurrent: 3, max_stream_bytes: 7, ..Limits::default() } };
        let out = base.overlay(&WasmLimitsConfig::default()).unwrap();
        assert_eq!(out, base);
        let mut open = base.clone();
        open.limits.allow_call = "log".parse().unwrap();
        let table = WasmLimitsConfig { allow_call_schemes: Some(String::new()), ..Default::default() };
        assert!(open.overlay(&table).unwrap().limits.allow_call.is_empty());
    }

    #[test]
    fn bad_values_name_the_field() {
        let zero = WasmLimitsConfig { max_concurrent_calls: Some(0), ..Default::default() };
        assert_eq!(
            TomlLimits::try_from(&zero).unwrap_err().to_string(),
            "invalid value '0' for parameter 'max-concurrent-calls': must be greater than zero"
        );
        let zero = WasmLimitsConfig { timeout_secs: Some(0), ..Default::default() };
        assert!(TomlLimits::try_from(&zero).unwrap_err().to_string().contains("parameter 'timeout-secs'"));
        let zero = WasmLimitsConfig { max_stream_bytes: Some(0), ..Default::default() };
        assert!(TomlLimits::try_from(&zero).unwrap_err().to_string().contains("parameter 'max-stream-bytes'"));
        let bad = WasmLimitsConfig { allow_call_schemes: Some("ht tp".into()), ..Default::default() };
        assert!(TomlLimits::try_from(&bad).unwrap_err().to_string().contains("parameter 'allow-call-schemes'"));
    }

    #[test]
    fn policies_refuse_what_they_cannot_honour() {
        let calls = WasmLimitsConfig { allow_call_schemes: Some("log".into()), ..Default::default() };
        assert!(check_policy_table(&calls, true).unwrap_err().to_string().contains("'allow-call-schemes'"));
        let stream = WasmLimitsConfig { max_stream_bytes: Some(10), ..Default::default() };
        assert!(check_policy_table(&stream, true).is_ok());
        assert!(check_policy_table(&stream, false).unwrap_err().to_string().contains("'max-stream-bytes'"));
    }

    /// A knob's example value as JSON: a number for a numeric knob, else a string.
    fn json_example(knob: &Knob) -> serde_json::Value {
        let example = knob.example();
        example.parse::<u64>().map_or_else(|_| example.into(), Into::into)
    }

    /// What the URI `wasm:x.wasm?{knob}={example}` sets.
    fn by_uri(knob: &Knob) -> Limits {
        format!("wasm:x.wasm?{}={}", knob.name, knob.example()).parse::<crate::EndpointUri>().unwrap().limits
    }

    #[test]
    fn every_knob_camel_toml_names_lands_as_its_uri_parameter_does() {
        use super::super::bundle::WasmBundleConfig;
        for knob in knobs::KNOBS {
            let json = serde_json::json!({ "key": json_example(knob) });
            let mut table = serde_json::Map::new();
            match knob.toml {
                TomlKey::Limits(key) => {
                    table.insert(key.into(), json["key"].clone());
                    let config: WasmLimitsConfig = serde_json::from_value(table.into()).unwrap();
                    let out = TomlLimits::try_from(&config).unwrap_or_else(|e| panic!("{}: {e}", knob.name));
                    assert_eq!(out.limits, by_uri(knob), "limits.{key} does not set {}", knob.name);
                }
                TomlKey::Component => {
                    table.insert(knob.name.into(), json["key"].clone());
                    let config: WasmBundleConfig = serde_json::from_value(table.into()).unwrap();
                    let out = config.defaults().unwrap_or_else(|e| panic!("{}: {e}", knob.name));
                    assert_eq!(out.limits, by_uri(knob), "[components.wasm] {} does not set it", knob.name);
                }
                TomlKey::None => {
                    table.insert(knob.name.into(), json["key"].clone());
                    let value = serde_json::Value::from(table);
                    assert!(serde_json::from_value::<WasmLimitsConfig>(value.clone()).is_err(), "{}", knob.name);
                    let bundle = serde_json::from_value::<WasmBundleConfig>(value);
                    assert!(bundle.is_err(), "Camel.toml takes {}: say so in the knob table", knob.name);
                }
            }
        }
    }

    #[test]
    fn every_limits_field_has_its_knob() {
        let full = WasmLimitsConfig {
            timeout_secs: Some(1),
            max_memory: Some(1),
            max_concurrent_calls: Some(1),
            max_wasm_size: Some(1),
            allow_call_schemes: Some("log".into()),
            max_stream_bytes: Some(1),
            max_instances: Some(1),
            max_tables: Some(1),
            max_table_elements: Some(1),
            max_kv_entries: Some(1),
            max_key_bytes: Some(1),
            max_value_bytes: Some(1),
        };
        let serde_json::Value::Object(fields) = serde_json::to_value(&full).unwrap() else { panic!("a table") };
        for field in fields.keys() {
            assert!(knob_of(field).is_some(), "no knob has TomlKey::Limits({field:?})");
        }
    }
}
