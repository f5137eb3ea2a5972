//! The one table of endpoint knobs: each written once, with its name, its
//! rust-camel alias, kind, default, bounds, Camel.toml key and a one-line doc.
//!
//! [`Limits`](crate::Limits) (defaults, `set`, `validate`), the CLI's flags,
//! rust-camel's `uri_options`, the Camel.toml overlay and the knob table of
//! the docs are all derived from [`KNOBS`]; drift tests fail when one misses a knob.
//! This module is in the model layer: it imports nothing from the crate.

use std::time::Duration;

/// The longest duration a knob takes: larger values saturate to it (about a hundred years).
pub const MAX_SECONDS: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// The most calls in flight one endpoint can allow (tokio's semaphore bound).
pub const MAX_CONCURRENT: u64 = tokio::sync::Semaphore::MAX_PERMITS as u64;

/// The kind of value a knob takes, with its bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Seconds, fractions allowed: more than zero; beyond [`MAX_SECONDS`] saturates.
    Seconds,
    /// A whole number of bytes, from 1 to `max`.
    Bytes {
        /// The largest value accepted.
        max: u64,
    },
    /// A whole number (of calls, keys, instances...), from 1 to `max`.
    Count {
        /// The largest value accepted.
        max: u64,
    },
    /// One of these words.
    Choice(&'static [&'static str]),
    /// Text in the knob's own syntax (a list, a URL, a name), checked where it is parsed.
    Text {
        /// What the value is, for a CLI flag's placeholder (`URL`).
        placeholder: &'static str,
    },
}

/// A knob's default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DefaultValue {
    /// A number: of seconds for a [`Kind::Seconds`] knob.
    Number(u64),
    /// A value in the knob's text form (`reuse`).
    Word(&'static str),
    /// Empty or unset; the text says what that means (`none: keep`).
    Unset(&'static str),
}

/// Where Camel.toml sets a knob.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TomlKey {
    /// A key of camel-config's `limits` table (`WasmLimitsConfig`).
    Limits(&'static str),
    /// A key of the `[components.wasm]` table, under the knob's own name.
    Component,
    /// Camel.toml has no key for it.
    None,
}

/// One endpoint knob.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Knob {
    /// Its name in a URI, as a CLI flag and in serde tables (kebab-case).
    pub name: &'static str,
    /// rust-camel 0.64's names for it, accepted as aliases.
    pub aliases: &'static [&'static str],
    /// Its value's kind and bounds.
    pub kind: Kind,
    /// Its default.
    pub default: DefaultValue,
    /// Where Camel.toml sets it.
    pub toml: TomlKey,
    /// One line of help.
    pub doc: &'static str,
    /// More for the docs' table (empty: nothing more).
    pub note: &'static str,
}

use DefaultValue::{Number, Unset, Word};
use Kind::{Bytes, Choice, Count, Seconds, Text};

/// Every endpoint knob, in the order they are documented and listed.
pub const KNOBS: &[Knob] = &[
    Knob {
        name: "timeout",
        aliases: &[],
        kind: Seconds,
        default: Number(30),
        toml: TomlKey::Limits("timeout-secs"),
        doc: "wall-clock deadline of a call, time spent in host calls included",
        note: "",
    },
    Knob {
        name: "max-memory",
        aliases: &[],
        kind: Bytes { max: u64::MAX },
        default: Number(50 * 1024 * 1024),
        toml: TomlKey::Limits("max-memory"),
        doc: "largest linear memory a guest may grow to, in bytes",
        note: "",
    },
    Knob {
        name: "max-concurrent",
        aliases: &["max-concurrent-calls"],
        kind: Count { max: MAX_CONCURRENT },
        default: Number(16),
        toml: TomlKey::Limits("max-concurrent-calls"),
        doc: "calls in flight per endpoint; more callers wait",
        note: "",
    },
    Knob {
        name: "max-wasm-size",
        aliases: &[],
        kind: Bytes { max: u64::MAX },
        default: Number(64 * 1024 * 1024),
        toml: TomlKey::Limits("max-wasm-size"),
        doc: "largest .wasm file accepted, in bytes",
        note: "larger files are refused before compiling",
    },
    Knob {
        name: "isolation",
        aliases: &[],
        kind: Choice(&["reuse", "per-call"]),
        default: Word("reuse"),
        toml: TomlKey::None,
        doc: "instance reuse: `reuse` (warm instances) or `per-call` (a fresh instance per exchange)",
        note: "",
    },
    Knob {
        name: "recycle-after",
        aliases: &[],
        kind: Count { max: u64::MAX },
        default: Number(10_000),
        toml: TomlKey::None,
        doc: "calls after which a warm instance is replaced",
        note: "",
    },
    Knob {
        name: "state-max-entries",
        aliases: &["max-kv-entries"],
        kind: Count { max: u64::MAX },
        default: Number(1024),
        toml: TomlKey::Limits("max-kv-entries"),
        doc: "most keys in the endpoint's host-store state",
        note: "",
    },
    Knob {
        name: "state-max-key-bytes",
        aliases: &["max-key-bytes"],
        kind: Bytes { max: u64::MAX },
        default: Number(256),
        toml: TomlKey::Limits("max-key-bytes"),
        doc: "longest host-store key, in bytes",
        note: "",
    },
    Knob {
        name: "state-max-value-bytes",
        aliases: &["max-value-bytes"],
        kind: Bytes { max: u64::MAX },
        default: Number(64 * 1024),
        toml: TomlKey::Limits("max-value-bytes"),
        doc: "longest host-store value, in bytes",
        note: "",
    },
    Knob {
        name: "allow-call",
        aliases: &[],
        kind: Text { placeholder: "SCHEMES" },
        default: Unset("empty: deny all"),
        toml: TomlKey::Limits("allow-call-schemes"),
        doc: "endpoints camel-call / camel-poll may reach: schemes or scheme:path prefixes, comma-separated",
        note: "`log,direct:audit`; `direct:audit?*` also lets query options through",
    },
    Knob {
        name: "max-properties",
        aliases: &[],
        kind: Count { max: u64::MAX },
        default: Number(256),
        toml: TomlKey::None,
        doc: "most distinct properties a guest may set in one call",
        note: "",
    },
    Knob {
        name: "max-property-bytes",
        aliases: &[],
        kind: Bytes { max: u64::MAX },
        default: Number(1024 * 1024),
        toml: TomlKey::None,
        doc: "most bytes (keys plus values) a guest may set as properties in one call",
        note: "",
    },
    Knob {
        name: "max-instances",
        aliases: &[],
        kind: Count { max: u32::MAX as u64 },
        default: Number(32),
        toml: TomlKey::Limits("max-instances"),
        doc: "most core instances in one guest",
        note: "the runtime's ceiling: 64",
    },
    Knob {
        name: "max-tables",
        aliases: &[],
        kind: Count { max: u32::MAX as u64 },
        default: Number(32),
        toml: TomlKey::Limits("max-tables"),
        doc: "most tables in one guest",
        note: "the runtime's ceiling: 64",
    },
    Knob {
        name: "max-table-elements",
        aliases: &[],
        kind: Count { max: u64::MAX },
        default: Number(20_000),
        toml: TomlKey::Limits("max-table-elements"),
        doc: "most elements of all a guest's tables together",
        note: "the runtime's ceiling: 100000",
    },
    Knob {
        name: "max-stream-bytes",
        aliases: &[],
        kind: Bytes { max: u64::MAX },
        default: Number(1024 * 1024 * 1024),
        toml: TomlKey::Limits("max-stream-bytes"),
        doc: "most bytes one stream body may carry, into a guest or back out of it",
        note: "going over ends the stream with an error naming the knob (memory stays flat whatever the size)",
    },
    Knob {
        name: "stream-idle-timeout",
        aliases: &[],
        kind: Seconds,
        default: Number(30),
        toml: TomlKey::Component,
        doc: "seconds a stream body may move no byte before it fails (the no-progress watchdog)",
        note: "a reader that is merely slow does not trip it",
    },
    Knob {
        name: "unhealthy-after",
        aliases: &[],
        kind: Count { max: u32::MAX as u64 },
        default: Number(5),
        toml: TomlKey::None,
        doc: "failed calls in a row after which the endpoint reports unhealthy",
        note: "timeouts, traps, panics, out of memory and init failures count, a guest's own error does not; \
               one success makes it healthy again",
    },
    Knob {
        name: "state",
        aliases: &[],
        kind: Text { placeholder: "URL" },
        default: Unset("the runtime's (`memory`)"),
        toml: TomlKey::Component,
        doc: "where host-store state lives: memory or redis://[user:password@]host:port/db",
        note: "a Redis store is shared by every process using it",
    },
    Knob {
        name: "state-namespace",
        aliases: &[],
        kind: Text { placeholder: "NAME" },
        default: Unset("none"),
        toml: TomlKey::Component,
        doc: "names this endpoint's state apart from other endpoints on the same plugin, or shares it with those naming it",
        note: "1–128 bytes, no braces",
    },
    Knob {
        name: "state-ttl",
        aliases: &[],
        kind: Seconds,
        default: Unset("none: keep"),
        toml: TomlKey::Component,
        doc: "seconds a stored host-store key lives",
        note: "",
    },
];

/// Every knob's name, in table order.
pub const NAMES: [&str; KNOBS.len()] = {
    let mut names = [""; KNOBS.len()];
    let mut i = 0;
    while i < KNOBS.len() {
        names[i] = KNOBS[i].name;
        i += 1;
    }
    names
};

const ALIAS_COUNT: usize = {
    let (mut n, mut i) = (0, 0);
    while i < KNOBS.len() {
        n += KNOBS[i].aliases.len();
        i += 1;
    }
    n
};

/// Every rust-camel alias: `(theirs, ours)`.
pub const ALIASES: [(&str, &str); ALIAS_COUNT] = {
    let mut aliases = [("", ""); ALIAS_COUNT];
    let (mut n, mut i) = (0, 0);
    while i < KNOBS.len() {
        let mut j = 0;
        while j < KNOBS[i].aliases.len() {
            aliases[n] = (KNOBS[i].aliases[j], KNOBS[i].name);
            n += 1;
            j += 1;
        }
        i += 1;
    }
    aliases
};

const fn same(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// The knob named `name` (or one of its aliases), if any.
pub const fn find(name: &str) -> Option<&'static Knob> {
    let mut i = 0;
    while i < KNOBS.len() {
        let knob = &KNOBS[i];
        if same(knob.name, name) {
            return Some(knob);
        }
        let mut j = 0;
        while j < knob.aliases.len() {
            if same(knob.aliases[j], name) {
                return Some(knob);
            }
            j += 1;
        }
        i += 1;
    }
    None
}

/// The numeric default of knob `name`; panics (at compile time in a `const`) when it has none.
pub const fn default_number(name: &str) -> u64 {
    match find(name) {
        Some(Knob { default: Number(n), .. }) => *n,
        _ => panic!("no knob of that name with a numeric default"),
    }
}

/// A positive number of seconds; beyond [`MAX_SECONDS`] saturates.
pub fn parse_seconds(value: &str) -> Result<Duration, &'static str> {
    let secs: f64 = value.trim().parse().map_err(|_| "expected seconds, such as 5 or 0.5")?;
    if secs.is_nan() || secs <= 0.0 {
        return Err("must be greater than zero");
    }
    // Beyond what a Duration holds, or beyond MAX_SECONDS: saturate.
    let duration = Duration::try_from_secs_f64(secs).unwrap_or(MAX_SECONDS).min(MAX_SECONDS);
    if duration.is_zero() {
        return Err("must be at least one nanosecond");
    }
    Ok(duration)
}

/// A `state-namespace`: 1 to 128 bytes, no braces (they delimit the Redis hash tag) and no control characters.
pub fn check_namespace(value: &str) -> Result<(), &'static str> {
    if value.is_empty() || value.len() > 128 {
        return Err("must be 1 to 128 bytes");
    }
    if value.chars().any(|c| c == '{' || c == '}' || c.is_control()) {
        return Err("must not contain braces or control characters");
    }
    Ok(())
}

impl Knob {
    /// The value's largest accepted number, for a numeric knob.
    pub const fn max(&self) -> Option<u64> {
        match self.kind {
            Bytes { max } | Count { max } => Some(max),
            _ => None,
        }
    }

    /// A whole number within this knob's bounds, from its text form.
    pub fn parse_number(&self, value: &str) -> Result<u64, String> {
        let n = match value.trim().parse::<u64>() {
            Ok(0) => return Err("must be greater than zero".into()),
            Ok(n) => n,
            Err(_) => return Err("expected a positive whole number".into()),
        };
        self.check_number(n).map(|()| n)
    }

    /// Checks a whole number against this knob's bounds.
    pub fn check_number(&self, n: u64) -> Result<(), String> {
        match self.max() {
            _ if n == 0 => Err("must be greater than zero".into()),
            Some(max) if n > max => Err(format!("too large (at most {max})")),
            _ => Ok(()),
        }
    }

    /// For a [`Kind::Choice`] knob, the index of the word `value`.
    pub fn parse_choice(&self, value: &str) -> Result<usize, String> {
        let Choice(words) = self.kind else { return Err("not a choice".into()) };
        let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
        words.iter().position(|w| *w == value).ok_or_else(|| format!("expected {}", quoted.join(" or ")))
    }

    /// The default as the docs show it (`30 (s)`, `52428800 (50 MiB)`, `` `reuse` ``).
    pub fn default_text(&self) -> String {
        match (self.default, self.kind) {
            (Number(n), Seconds) => format!("{n} (s)"),
            (Number(n), Bytes { .. }) => match binary_size(n) {
                Some(size) => format!("{n} ({size})"),
                None => n.to_string(),
            },
            (Number(n), _) => n.to_string(),
            (Word(word), _) => format!("`{word}`"),
            (Unset(meaning), _) => meaning.to_string(),
        }
    }

    /// The row of the docs' knob table for this knob.
    pub fn markdown_row(&self) -> String {
        let mut name = format!("`{}`", self.name);
        if !self.aliases.is_empty() {
            let aliases: Vec<String> = self.aliases.iter().map(|a| format!("`{a}`")).collect();
            name += &format!(" (rust-camel: {})", aliases.join(", "));
        }
        let toml = match self.toml {
            TomlKey::Limits(key) => format!("`limits.{key}`"),
            TomlKey::Component => format!("`{}` in `[components.wasm]`", self.name),
            TomlKey::None => "–".to_string(),
        };
        let meaning = match self.note {
            "" => self.doc.to_string(),
            note => format!("{}; {note}", self.doc),
        };
        format!("| {name} | {} | {toml} | {meaning} |", self.default_text())
    }
}

#[cfg(test)]
impl Knob {
    /// A valid value other than the default, for the drift tests.
    pub(crate) fn example(&self) -> &'static str {
        match (self.kind, self.name) {
            (Seconds | Bytes { .. } | Count { .. }, _) => "7",
            (Choice(words), _) => words[words.len() - 1],
            (Text { .. }, "allow-call") => "log",
            (Text { .. }, "state") => "redis://127.0.0.1:6379/1",
            (Text { .. }, _) => "orders",
        }
    }
}

/// `n` bytes in KiB, MiB or GiB when it is a whole number of one of them.
fn binary_size(n: u64) -> Option<String> {
    [(1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")]
        .into_iter()
        .find(|(unit, _)| n >= *unit && n.is_multiple_of(*unit))
        .map(|(unit, name)| format!("{} {name}", n / unit))
}

/// The docs' knob table, one row per knob, generated from [`KNOBS`].
pub fn markdown_table() -> String {
    let mut table = String::from("| knob | default | Camel.toml | meaning |\n|---|---|---|---|\n");
    for knob in KNOBS {
        table += &knob.markdown_row();
        table.push('\n');
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The file whose knob table is generated: between these markers.
    const DOCS: &str = "docs/configuration.md";
    const BEGIN: &str = "<!-- knobs:begin -->\n";
    const END: &str = "<!-- knobs:end -->";

    #[test]
    fn names_and_aliases_are_unique() {
        let mut all: Vec<&str> = NAMES.to_vec();
        all.extend(ALIASES.iter().map(|(theirs, _)| *theirs));
        let count = all.len();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), count, "a name or alias is used twice");
        for knob in KNOBS {
            assert_eq!(find(knob.name), Some(knob));
            assert!(knob.aliases.iter().all(|a| find(a) == Some(knob)));
            assert!(knob.name.bytes().all(|b| b.is_ascii_lowercase() || b == b'-'), "{} is not kebab-case", knob.name);
            assert!(!knob.doc.is_empty() && !knob.doc.contains('\n'), "{}: a one-line doc", knob.name);
        }
        assert_eq!(find("nope"), None);
    }

    #[test]
    fn numeric_bounds_name_what_is_wrong() {
        let instances = find("max-instances").unwrap();
        assert_eq!(instances.parse_number("0").unwrap_err(), "must be greater than zero");
        assert_eq!(instances.parse_number("x").unwrap_err(), "expected a positive whole number");
        assert_eq!(instances.parse_number("4294967296").unwrap_err(), "too large (at most 4294967295)");
        assert_eq!(instances.parse_number("7"), Ok(7));
        assert_eq!(find("isolation").unwrap().parse_choice("x").unwrap_err(), "expected 'reuse' or 'per-call'");
        assert_eq!(default_number("max-properties"), 256);
    }

    /// Compares the docs' knob table with [`markdown_table`]; `UPDATE_KNOBS=1` rewrites it instead.
    #[test]
    fn the_docs_table_is_generated_from_the_knobs() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(DOCS);
        let text = std::fs::read_to_string(&path).unwrap();
        let start = text.find(BEGIN).unwrap_or_else(|| panic!("{DOCS} has no {BEGIN:?} marker")) + BEGIN.len();
        let end = start + text[start..].find(END).unwrap_or_else(|| panic!("{DOCS} has no {END:?} marker"));
        let table = markdown_table();
        if std::env::var_os("UPDATE_KNOBS").is_some() {
            std::fs::write(&path, format!("{}{table}{}", &text[..start], &text[end..])).unwrap();
            return;
        }
        assert_eq!(&text[start..end], table, "{DOCS}'s knob table is stale: run the test with UPDATE_KNOBS=1");
        for knob in KNOBS {
            assert!(text[start..end].contains(&format!("| `{}`", knob.name)), "{DOCS} misses {}", knob.name);
        }
    }
}
