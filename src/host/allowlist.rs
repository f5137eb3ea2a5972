//! The `allow-call` allowlist: which endpoints `camel-call` and `camel-poll` may reach.
//!
//! Fail-closed, as in rust-camel 0.64: the empty list (the default) denies
//! every call. An entry is a scheme (`log`: every `log:...` URI) or a
//! `scheme:path` prefix, which is a path boundary: `direct:audit` allows
//! `direct:audit` and `direct:audit/x`, but not `direct:auditor`, not a `.` or
//! `..` segment after it (also percent-encoded, `%2e%2E`, or made with an
//! encoded `/`; nor a backslash), not query options (`direct:audit?x=1`) and
//! not a fragment (`#x`). Ending the entry in `?*` (`direct:audit?*`) lets
//! query options through, unread; fragments are never allowed after a prefix.

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
    /// URIs equal to this `scheme:path` or continuing it with `/` and a safe
    /// sub-path; with `query`, also followed by `?` and options.
    Prefix { scheme: String, path: String, query: bool },
}

/// What an entry ends with to let query options through.
const ANY_QUERY: &str = "?*";

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
            Entry::Prefix { scheme: s, path, query } => s.eq_ignore_ascii_case(scheme) && within(rest, path, *query),
        })
    }
}

/// Whether `rest` (a URI after `scheme:`) is `prefix` or continues it with a
/// safe sub-path, and, only when `query` allows them, options.
fn within(rest: &str, prefix: &str, query: bool) -> bool {
    let Some(tail) = rest.strip_prefix(prefix) else { return false };
    let (sub, options) = match tail.split_once('?') {
        Some((sub, _)) => (sub, true),
        None => (tail, false),
    };
    let boundary = sub.is_empty() || sub.starts_with('/') || prefix.ends_with('/');
    boundary && (query || !options) && !rest.contains('#') && safe_path(&rest[..prefix.len() + sub.len()])
}

/// Whether `path` has no `.` or `..` segment, backslash, `?` or `#`, once
/// percent-decoded (repeatedly: `%252e` is a dot too).
fn safe_path(path: &str) -> bool {
    let decoded = decode_separators(path);
    !decoded.contains(['\\', '?', '#']) && decoded.split('/').all(|segment| segment != "." && segment != "..")
}

/// `text` with the percent-encodings of `.`, `/`, `\`, `?`, `#` and `%`
/// decoded (any case), until none is left. Each pass shortens the text, so
/// there are at most `text.len() / 3 + 1` passes.
fn decode_separators(text: &str) -> String {
    let mut text = text.to_string();
    loop {
        let mut out = String::with_capacity(text.len());
        let mut rest = text.as_str();
        while let Some(at) = rest.find('%') {
            out.push_str(&rest[..at]);
            let code = rest.get(at + 1..at + 3).map(str::to_ascii_lowercase);
            let decoded = match code.as_deref() {
                Some("2e") => Some('.'),
                Some("2f") => Some('/'),
                Some("5c") => Some('\\'),
                Some("3f") => Some('?'),
                Some("23") => Some('#'),
                Some("25") => Some('%'),
                _ => None,
            };
            match decoded {
                Some(c) => {
                    out.push(c);
                    rest = &rest[at + 3..];
                }
                None => {
                    out.push('%');
                    rest = &rest[at + 1..];
                }
            }
        }
        out.push_str(rest);
        if out == text {
            return out;
        }
        text = out;
    }
}

/// Why no `scheme:path` prefix can allow `uri`, when none can: a path that
/// leaves its prefix, or a fragment.
pub(crate) fn prefix_refusal(uri: &str) -> Option<&'static str> {
    let rest = uri.split_once(':').map_or("", |(_, rest)| rest);
    let path = rest.split_once('?').map_or(rest, |(path, _)| path);
    if !safe_path(path.split_once('#').map_or(path, |(path, _)| path)) {
        Some("'.' and '..' path segments (also percent-encoded), backslashes and encoded '?' or '#' are refused")
    } else if rest.contains('#') {
        Some("a fragment ('#') is refused")
    } else {
        None
    }
}

/// The narrowest entry that would allow `uri`: `scheme:path`, with `?*` when
/// it has a query; the bare scheme when no prefix can.
pub(crate) fn narrowest_entry(uri: &str) -> String {
    let Some((scheme, rest)) = uri.split_once(':') else { return uri.to_string() };
    let scheme = scheme.to_ascii_lowercase();
    let (path, query) = match rest.split_once('?') {
        Some((path, _)) => (path, true),
        None => (rest, false),
    };
    let listable = |c: char| c != ',' && !c.is_whitespace() && !c.is_control();
    if path.is_empty() || !path.chars().all(listable) || prefix_refusal(uri).is_some() {
        return scheme;
    }
    if query { format!("{scheme}:{path}{ANY_QUERY}") } else { format!("{scheme}:{path}") }
}

fn parse_entry(text: &str) -> Result<Entry, String> {
    let text = text.trim();
    let valid_scheme =
        |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.' | '_'));
    match text.split_once(':') {
        None if valid_scheme(text) => Ok(Entry::Scheme(text.to_ascii_lowercase())),
        Some((scheme, path)) if valid_scheme(scheme) && !path.is_empty() => {
            let (path, query) = match path.strip_suffix(ANY_QUERY) {
                Some(path) => (path, true),
                None => (path, false),
            };
            if path.is_empty() || !safe_path(path) {
                return Err(format!(
                    "'{text}': a 'scheme:path' prefix may not hold '.' or '..' segments, backslashes, \
                     a query or a fragment (end it with '?*' to let query options through)"
                ));
            }
            Ok(Entry::Prefix { scheme: scheme.to_ascii_lowercase(), path: path.to_string(), query })
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
                Entry::Prefix { scheme, path, query } => {
                    format!("{scheme}:{path}{}", if *query { ANY_QUERY } else { "" })
                }
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
        assert!(!list.allows("direct:audit?x=1"), "query options need an entry ending in '?*'");
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
    fn prefixes_are_path_boundaries() {
        let list: CallAllowlist = "log:audit".parse().unwrap();
        assert!(list.allows("log:audit/x"));
        assert!(list.allows("log:audit/x/y.txt"));
        assert!(list.allows("log:audit/..x/a%2ex"), "only whole segments are dot segments");
        for uri in [
            "log:audit/..",
            "log:audit/../secret",
            "log:audit/./x",
            "log:audit/x/../../secret",
            "log:audit/%2e%2E/secret",
            "log:audit/%2E",
            "log:audit/.%2e",
            "log:audit/..%2fsecret",
            "log:audit/x%2F..%2Fsecret",
            "log:audit/..%5csecret",
            "log:audit/..\\secret",
            "log:audit\\..\\secret",
            "log:audit/%252e%252e/secret",
            "log:audit?fileName=../../etc/passwd",
            "log:audit/x?level=info",
            "log:audit#x",
            "log:audit/x#..",
        ] {
            assert!(!list.allows(uri), "{uri}");
        }
        let list: CallAllowlist = "log:audit?*".parse().unwrap();
        assert!(list.allows("log:audit?fileName=x.txt"));
        assert!(list.allows("log:audit/x?level=info"));
        assert!(list.allows("log:audit"));
        assert!(!list.allows("log:audit/../x?level=info"));
        assert!(!list.allows("log:audit?x=1#frag"));
        assert!(!list.allows("log:auditor?x=1"));
        assert_eq!(list.to_string(), "log:audit?*");
        let bare: CallAllowlist = "log".parse().unwrap();
        assert!(bare.allows("log:audit/../secret?fileName=../../etc/passwd#x"), "a scheme allows every log: URI");
    }

    #[test]
    fn entries_with_dots_queries_or_fragments_are_refused() {
        for entry in ["log:a/../b", "log:a/%2e", "log:a?x=1", "log:a#b", "log:a\\b", "log:?*"] {
            assert!(entry.parse::<CallAllowlist>().is_err(), "{entry}");
        }
    }

    #[test]
    fn the_narrowest_entry_allowing_a_uri() {
        assert_eq!(narrowest_entry("log:audit/x"), "log:audit/x");
        assert_eq!(narrowest_entry("log:audit?fileName=x"), "log:audit?*");
        assert_eq!(narrowest_entry("LOG:audit/x?y=1"), "log:audit/x?*");
        assert_eq!(narrowest_entry("log:audit/../secret"), "log");
        assert_eq!(narrowest_entry("log:audit#x"), "log");
        assert_eq!(narrowest_entry("log:"), "log");
        for uri in ["log:audit/x", "log:audit?fileName=x", "log:audit/../secret", "log:a#b", "log:", "http://h/p?q"] {
            let entry = narrowest_entry(uri);
            let list: CallAllowlist = entry.parse().unwrap_or_else(|e| panic!("{uri}: {entry}: {e}"));
            assert!(list.allows(uri), "{uri}: {entry}");
        }
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        /// A reference resolver: `tail` percent-decoded (until nothing changes),
        /// backslashes as slashes, query and fragment cut, dot segments removed.
        fn resolved(tail: &str) -> (String, bool) {
            let mut text = tail.to_string();
            for _ in 0..tail.len() {
                let next = text
                    .replace("%25", "%")
                    .replace("%2e", ".")
                    .replace("%2E", ".")
                    .replace("%2f", "/")
                    .replace("%2F", "/")
                    .replace("%5c", "\\")
                    .replace("%5C", "\\");
                if next == text {
                    break;
                }
                text = next;
            }
            let text = text.replace('\\', "/");
            let cut = text.find(['?', '#']).unwrap_or(text.len());
            let has_options = cut < text.len();
            let mut segments: Vec<&str> = Vec::new();
            for segment in text[..cut].split('/') {
                match segment {
                    "." => {}
                    ".." => {
                        segments.pop();
                    }
                    other => segments.push(other),
                }
            }
            (segments.join("/"), has_options)
        }

        proptest! {
            #[test]
            fn an_allowed_uri_resolves_inside_its_prefix(tail in "[a./\\\\?#=%25eEfF2c]{0,16}") {
                let list: CallAllowlist = "log:audit".parse().unwrap();
                let uri = format!("log:audit{tail}");
                if list.allows(&uri) {
                    let (path, has_options) = resolved(&format!("audit{tail}"));
                    prop_assert!(path == "audit" || path.starts_with("audit/"), "{} resolves to {}", uri, path);
                    prop_assert!(!has_options, "{} has a query or fragment", uri);
                }
            }

            #[test]
            fn the_narrowest_entry_parses_and_allows(uri in "[a-z]{1,4}:[a-z./%?#=2eE]{0,12}") {
                let entry = narrowest_entry(&uri);
                let list: CallAllowlist = entry.parse().unwrap();
                prop_assert!(list.allows(&uri), "{} does not allow {}", entry, uri);
                prop_assert_eq!(list.to_string().parse::<CallAllowlist>().unwrap(), list);
            }
        }
    }

    #[test]
    fn serde_takes_a_string_or_a_list() {
        let a: CallAllowlist = serde_json::from_str(r#""log,direct""#).unwrap();
        let b: CallAllowlist = serde_json::from_str(r#"["log", "direct"]"#).unwrap();
        assert_eq!(a, b);
        assert_eq!(serde_json::to_string(&a).unwrap(), r#"["log","direct"]"#);
    }
}
