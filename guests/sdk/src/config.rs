//! [`Config`]: the key/value configuration a bean or policy gets at `init`.

use std::collections::BTreeMap;

/// The configuration passed to `init` (the WIT `list<tuple<string, string>>`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Config {
    entries: BTreeMap<String, String>,
}

impl Config {
    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.entries.get(key).map(String::as_str)
    }

    /// The value of `key`, or `default` when it is absent.
    pub fn get_or<'a>(&'a self, key: &str, default: &'a str) -> &'a str {
        self.get(key).unwrap_or(default)
    }

    /// Whether `key` is present.
    pub fn contains(&self, key: &str) -> bool {
        self.entries.contains_key(key)
    }

    /// The keys of `required` that are absent, in the order given.
    pub fn missing<'k>(&self, required: &[&'k str]) -> Vec<&'k str> {
        required.iter().copied().filter(|k| !self.contains(k)).collect()
    }

    /// The entries, ordered by key.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entries.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

impl From<Vec<(String, String)>> for Config {
    fn from(pairs: Vec<(String, String)>) -> Self {
        pairs.into_iter().collect()
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for Config {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let entries = iter.into_iter().map(|(k, v)| (k.into(), v.into())).collect();
        Config { entries }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookups() {
        let c: Config = [("role", "ops"), ("tenant", "t1")].into_iter().collect();
        assert_eq!(c.get("role"), Some("ops"));
        assert_eq!(c.get_or("missing", "admin"), "admin");
        assert!(c.contains("tenant"));
        assert_eq!(c.missing(&["tenant", "issuer", "x"]), vec!["issuer", "x"]);
        assert_eq!(c.iter().count(), 2);
        let from_wire = Config::from(vec![("a".to_string(), "1".to_string())]);
        assert_eq!(from_wire.get("a"), Some("1"));
    }
}
