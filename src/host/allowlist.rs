//! The `allow-call` allowlist: which endpoints `camel-call` and `camel-poll` may reach.
//!
//! Fail-closed, as in rust-camel 0.64: the empty list (the default) denies
//! every call. An entry is a scheme (`log`, any `log:...` URI) or a
//! `scheme:path` prefix (`direct:audit`, which allows `direct:audit` and
//! `direct:audit?x=1` or `direct:audit/x`, but not `direct:auditor`).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Endpoints a guest may call: schemes and `scheme:path` prefixes; empty denies all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallAllowlist {
    entries: Vec<Entry>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Entry {
    /// Every URI of this scheme (lower-cased).
    Scheme(String),
    /// URIs equal to this `scheme:path` or continuing it with `?`, `/` or `#`.
    Prefix { scheme: String, path: String },
}

impl CallAllowlist {
    /// The list that denies every call.
    pub fn none() -> Self {
        Self::default()
    }

    /// A list of `entries` (schemes or `scheme:path` prefixes); an invalid one is an error naming it.
    pub fn of<I, S>(entries: I) -> Result<Self, String>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut list = Self::default();
        for entry in entries {
            list.entries.push(parse_entry(entry.as_ref())?);
        }
        Ok(list)
    }

    /// Whether nothing is allowed.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Whether `uri` (`scheme:rest`) may be called.
    pub fn allows(&self, uri: &str) -> bool {
        let Some((scheme, rest)) = uri.split_once(':') else { return false };
        self.entries.iter().any(|entry| match entry {
            Entry::Scheme(s) => s.eq_ignore_ascii_case(scheme),
            Entry::Prefix { scheme: s, path } => {
                s.eq_ignore_ascii_case(scheme)
                    && rest.strip_prefix(path.as_str()).is_some_and(|tail| {
                        tail.is_empty() || tail.starts_with(['?', '/', '#'])
                    })
            }
        })
    }
}

fn parse_entry(text: &str) -> Result<Entry, String> {
    let text = text.trim();
    let valid_scheme = |s: &str| {
        !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.' | '_'))
    };
    match text.split_once(':') {
        None if valid_scheme(text) => Ok(Entry::Scheme(text.to_ascii_lowercase())),
        Some((scheme, path)) if valid_scheme(scheme) && !path.is_empty() => {
            Ok(Entry::Prefix { scheme: scheme.to_ascii_lowercase(), path: path.to_string() })
        }
        _ => Err(format!("'{text}' is not a scheme (such as 'log') or a 'scheme:path' prefix (such as 'direct:audit')")),
    }
}

impl FromStr for CallAllowlist {
    type Err = String;

    /// Parses a comma-separated list, as in `allow-call=log,direct:audit`.
    fn from_str(text: &str) -> Result<Self, String> {
        Self::of(text.split(',').map(str::trim).filter(|e| !e.is_empty()))
    }
}

impl fmt::Display for CallAllowlist {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self
            .entries
            .iter()
            .map(|e| match e {
                Entry::Scheme(s) => s.clone(),
                Entry::Prefix { scheme, path } => format!("{scheme}:{path}"),
            })
            .collect();
        f.write_str(&parts.join(","))
    }
}

impl Serialize for CallAllowlist {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.to_string().split(',').filter(|e| !e.is_empty()))
    }
}

impl<'de> Deserialize<'de> for CallAllowlist {
    /// A comma-separated string or a list of strings.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Form {
            Text(String),
            List(Vec<String>),
        }
        match Form::deserialize(d)? {
            Form::Text(text) => text.parse(),
            Form::List(list) => Self::of(list),
        }
        .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_denies_everything() {
        let none = CallAllowlist::default();
        assert!(!none.allows("log:x"));
        assert!(!none.allows("direct:a"));
        assert!("".parse::<CallAllowlist>().unwrap().is_empty());
    }

    #[test]
    fn schemes_and_prefixes() {
        let list: CallAllowlist = "log, DIRECT:audit".parse().unwrap();
        assert!(list.allows("log:x"));
        assert!(list.allows("LOG:x?level=info"));
        assert!(list.allows("direct:audit"));
        assert!(list.allows("direct:audit?x=1"));
        assert!(list.allows("direct:audit/sub"));
        assert!(!list.allows("direct:auditor"));
        assert!(!list.allows("direct:other"));
        assert!(!list.allows("http://169.254.169.254/latest"));
        assert!(!list.allows("no-scheme"));
        assert_eq!(list.to_string(), "log,direct:audit");
    }

    #[test]
    fn bad_entries_are_named() {
        let err = "log,ht tp".parse::<CallAllowlist>().unwrap_err();
        assert!(err.contains("'ht tp'"), "{err}");
        assert!("direct:".parse::<CallAllowlist>().is_err());
        assert!(":x".parse::<CallAllowlist>().is_err());
    }

    #[test]
    fn serde_takes_a_string_or_a_list() {
        let a: CallAllowlist = serde_json::from_str(r#""log,direct""#).unwrap();
        let b: CallAllowlist = serde_json::from_str(r#"["log", "direct"]"#).unwrap();
        assert_eq!(a, b);
        assert_eq!(serde_json::to_string(&a).unwrap(), r#"["log","direct"]"#);
    }
}
