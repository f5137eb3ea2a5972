//! [`Fields`]: headers and properties, JSON-aware and lossless on the wire.

use crate::Error;
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::collections::BTreeMap;

/// A map of headers or properties with JSON values.
///
/// On the wire (the WIT `list<tuple<string, string>>`) every value is a string:
/// a JSON string goes out raw (not quoted), any other value as its JSON text.
/// Coming in, a wire string that parses as JSON becomes that JSON value,
/// otherwise a string. An entry the guest did not change goes back out with
/// exactly the wire string it came in with, so a host string `"42"` that reads
/// here as the number 42 is still returned as `42`, not re-encoded.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Fields {
    entries: BTreeMap<String, Field>,
}

/// One value and its wire text.
#[derive(Clone, Debug, PartialEq)]
struct Field {
    value: Value,
    wire: String,
}

impl Field {
    fn from_wire(wire: String) -> Self {
        let value = serde_json::from_str(&wire).unwrap_or_else(|_| Value::String(wire.clone()));
        Field { value, wire }
    }

    fn from_value(value: Value) -> Self {
        let wire = match &value {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        Field { value, wire }
    }
}

impl Fields {
    /// An empty map.
    pub fn new() -> Self {
        Self::default()
    }

    /// The JSON value under `key`.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.entries.get(key).map(|f| &f.value)
    }

    /// The value under `key` as text: a string value itself, any other value
    /// as its wire text (`42`, `true`, `{"a":1}`).
    pub fn get_str(&self, key: &str) -> Option<&str> {
        self.entries.get(key).map(|f| match &f.value {
            Value::String(s) => s.as_str(),
            _ => f.wire.as_str(),
        })
    }

    /// The value under `key` deserialized into `T`; `Ok(None)` when absent.
    ///
    /// A value that does not fit `T` is retried as its wire text, so
    /// `get_as::<String>` also reads a header that arrived as `42`.
    pub fn get_as<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, Error> {
        let Some(field) = self.entries.get(key) else {
            return Ok(None);
        };
        T::deserialize(&field.value)
            .or_else(|e| match &field.value {
                Value::String(_) => Err(e),
                _ => T::deserialize(Value::String(field.wire.clone())).map_err(|_| e),
            })
            .map(Some)
            .map_err(|e| Error::type_conversion(format!("{key}: {e}")))
    }

    /// The exact wire text of the value under `key`.
    pub fn wire(&self, key: &str) -> Option<&str> {
        self.entries.get(key).map(|f| f.wire.as_str())
    }

    /// Sets `key` to `value` (anything that converts into a JSON value).
    pub fn set(&mut self, key: impl Into<String>, value: impl Into<Value>) {
        self.entries.insert(key.into(), Field::from_value(value.into()));
    }

    /// Removes `key`, returning its value.
    pub fn remove(&mut self, key: &str) -> Option<Value> {
        self.entries.remove(key).map(|f| f.value)
    }

    /// Whether `key` is present.
    pub fn contains(&self, key: &str) -> bool {
        self.entries.contains_key(key)
    }

    /// The number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The keys and values, ordered by key.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.entries.iter().map(|(k, f)| (k.as_str(), &f.value))
    }

    /// Builds the map from wire pairs (a later duplicate key wins).
    pub fn from_wire(pairs: Vec<(String, String)>) -> Self {
        let entries = pairs.into_iter().map(|(k, w)| (k, Field::from_wire(w))).collect();
        Fields { entries }
    }

    /// The wire pairs, ordered by key.
    pub fn into_wire(self) -> Vec<(String, String)> {
        self.entries.into_iter().map(|(k, f)| (k, f.wire)).collect()
    }
}

impl<K: Into<String>, V: Into<Value>> FromIterator<(K, V)> for Fields {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let mut fields = Fields::new();
        for (k, v) in iter {
            fields.set(k, v);
        }
        fields
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn wire(pairs: &[(&str, &str)]) -> Fields {
        Fields::from_wire(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect())
    }

    #[test]
    fn incoming_json_text_becomes_json_values() {
        let f = wire(&[("n", "42"), ("b", "true"), ("o", r#"{"a":[1,2]}"#), ("nul", "null")]);
        assert_eq!(f.get("n"), Some(&json!(42)));
        assert_eq!(f.get("b"), Some(&json!(true)));
        assert_eq!(f.get("o"), Some(&json!({"a": [1, 2]})));
        assert_eq!(f.get("nul"), Some(&Value::Null));
    }

    #[test]
    fn incoming_non_json_text_becomes_a_string() {
        let f = wire(&[("s", "hello world"), ("q", r#""quoted""#)]);
        assert_eq!(f.get("s"), Some(&json!("hello world")));
        assert_eq!(f.get_str("s"), Some("hello world"));
        assert_eq!(f.get("q"), Some(&json!("quoted")));
    }

    #[test]
    fn untouched_entries_keep_their_exact_wire_text() {
        let pairs = [("n", "42"), ("q", r#""quoted""#), ("sp", " 7 "), ("o", r#"{ "b":1, "a":2 }"#)];
        let f = wire(&pairs);
        let expected: Vec<_> = {
            let mut v: Vec<_> = pairs.iter().map(|(k, w)| (k.to_string(), w.to_string())).collect();
            v.sort();
            v
        };
        assert_eq!(f.into_wire(), expected);
    }

    #[test]
    fn set_values_go_out_as_raw_strings_or_json_text() {
        let mut f = wire(&[("n", "42")]);
        f.set("n", 43);
        f.set("s", "plain");
        f.set("num-string", "42");
        f.set("b", false);
        f.set("o", json!({"k": "v"}));
        f.set("nul", Value::Null);
        let out: BTreeMap<_, _> = f.into_wire().into_iter().collect();
        assert_eq!(out["n"], "43");
        assert_eq!(out["s"], "plain");
        assert_eq!(out["num-string"], "42");
        assert_eq!(out["b"], "false");
        assert_eq!(out["o"], r#"{"k":"v"}"#);
        assert_eq!(out["nul"], "null");
    }

    #[test]
    fn get_str_gives_text_for_every_value() {
        let mut f = wire(&[("n", "42"), ("o", r#"{"a":1}"#)]);
        f.set("b", true);
        assert_eq!(f.get_str("n"), Some("42"));
        assert_eq!(f.get_str("o"), Some(r#"{"a":1}"#));
        assert_eq!(f.get_str("b"), Some("true"));
        assert_eq!(f.get_str("missing"), None);
    }

    #[test]
    fn get_as_deserializes_and_falls_back_to_wire_text() {
        let f = wire(&[("n", "42"), ("roles", r#"["a","b"]"#), ("s", "x")]);
        assert_eq!(f.get_as::<u64>("n").unwrap(), Some(42));
        assert_eq!(f.get_as::<String>("n").unwrap(), Some("42".to_string()));
        assert_eq!(f.get_as::<Vec<String>>("roles").unwrap(), Some(vec!["a".into(), "b".into()]));
        assert_eq!(f.get_as::<u64>("missing").unwrap(), None);
        assert!(matches!(f.get_as::<u64>("s"), Err(Error::TypeConversion(_))));
    }

    #[test]
    fn remove_contains_len_iter() {
        let mut f: Fields = [("a", 1), ("b", 2)].into_iter().collect();
        assert_eq!(f.len(), 2);
        assert!(f.contains("a"));
        assert_eq!(f.remove("a"), Some(json!(1)));
        assert!(!f.contains("a"));
        assert_eq!(f.iter().collect::<Vec<_>>(), vec![("b", &json!(2))]);
        assert!(!f.is_empty());
    }

    #[test]
    fn a_later_duplicate_wins() {
        let f = wire(&[("k", "1"), ("k", "2")]);
        assert_eq!(f.get("k"), Some(&json!(2)));
    }
}
