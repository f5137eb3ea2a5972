//! Guest-controlled text made safe to log and print: control characters escaped.

use std::borrow::Cow;
use std::fmt::Write;

/// `text` with every control character (C0, DEL and C1: U+0000–U+001F,
/// U+007F–U+009F) escaped: `\n`, `\r` and `\t` as such, the others as
/// `\u{1b}`; borrowed when there is none. Backslashes are left as they are.
pub fn escape_control(text: &str) -> Cow<'_, str> {
    escape(text, false)
}

/// Serialized JSON made safe to print: DEL and C1 characters, which serde_json
/// leaves raw in strings, become `\u007f` escapes (it escapes C0 itself).
pub fn escape_control_json(json: &str) -> Cow<'_, str> {
    escape(json, true)
}

/// The one escaping loop: as text, or as JSON whose C0 are escaped already
/// (a raw C0 there is structure: the newlines of pretty JSON).
fn escape(text: &str, json: bool) -> Cow<'_, str> {
    let unsafe_char = |c: char| c.is_control() && !(json && c < '\u{20}');
    if !text.chars().any(unsafe_char) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            c if !unsafe_char(c) => out.push(c),
            c if json => write!(out, "\\u{:04x}", u32::from(c)).expect("writing to a String"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c => write!(out, "\\u{{{:x}}}", u32::from(c)).expect("writing to a String"),
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_control_character_is_escaped_readably() {
        let forged = "ok\r2026 ERROR host: forged\x0b\x1b]0;title\x07\x1b[2J\x7f\u{9b}\u{80}\u{9f}\0\t\n";
        assert_eq!(
            escape_control(forged),
            r"ok\r2026 ERROR host: forged\u{b}\u{1b}]0;title\u{7}\u{1b}[2J\u{7f}\u{9b}\u{80}\u{9f}\u{0}\t\n"
        );
        assert!(matches!(escape_control("plain é \\ ü"), Cow::Borrowed(_)));
        assert_eq!(escape_control("\u{a0}\u{7e}"), "\u{a0}\u{7e}", "the neighbours of DEL and C1 stay");
        for c in (0..=0x10ffff).filter_map(char::from_u32) {
            let escaped = escape_control(c.encode_utf8(&mut [0; 4])).into_owned();
            assert!(!escaped.chars().any(char::is_control), "{c:?}");
        }
    }

    #[test]
    fn json_keeps_its_structure_and_stays_json() {
        let value = serde_json::json!({"text": "a\x1b[2J\r\x7f\u{9b}b"});
        let pretty = serde_json::to_string_pretty(&value).unwrap();
        let safe = escape_control_json(&pretty);
        assert!(!safe.chars().any(|c| c.is_control() && c != '\n'), "{safe}");
        assert_eq!(safe.lines().count(), pretty.lines().count());
        assert_eq!(serde_json::from_str::<serde_json::Value>(&safe).unwrap(), value);
    }
}
