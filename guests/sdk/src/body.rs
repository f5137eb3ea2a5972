//! [`Body`]: the body of a message.

use crate::{Error, StreamBody};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// The body of a message.
///
/// A JSON body keeps its text exactly as it arrived; [`Body::json`] parses it
/// on demand and [`Body::set_json`] serializes into it.
///
/// A [`Body::Stream`] is not in memory: [`Body::text`] is `None` and
/// [`Body::bytes`] empty for it. Read it with [`Body::into_reader`] (which
/// reads any body chunk by chunk), create one with [`Body::stream_from`] or
/// [`Body::stream_from_iter`]. Because a stream can be read only once, `Body`
/// is not `Clone` ([`Body::try_clone`] copies the other variants), and a
/// stream body equals only itself.
#[derive(Debug, Default, PartialEq, Eq)]
pub enum Body {
    /// No body.
    #[default]
    Empty,
    /// A text body.
    Text(String),
    /// A binary body.
    Bytes(Vec<u8>),
    /// A JSON body, as JSON text.
    Json(String),
    /// An XML body, as XML text.
    Xml(String),
    /// A body delivered as a stream of bytes (the WIT `stream` variant).
    Stream(StreamBody),
}

impl Body {
    /// A JSON body holding `value` serialized.
    pub fn from_json<T: Serialize + ?Sized>(value: &T) -> Result<Self, Error> {
        Ok(Body::Json(serde_json::to_string(value)?))
    }

    /// The variant's name: `empty`, `text`, `bytes`, `json`, `xml` or `stream`.
    pub fn kind(&self) -> &'static str {
        match self {
            Body::Empty => "empty",
            Body::Text(_) => "text",
            Body::Bytes(_) => "bytes",
            Body::Json(_) => "json",
            Body::Xml(_) => "xml",
            Body::Stream(_) => "stream",
        }
    }

    /// Whether this is [`Body::Empty`].
    pub fn is_empty(&self) -> bool {
        matches!(self, Body::Empty)
    }

    /// Whether this is a [`Body::Stream`].
    pub fn is_stream(&self) -> bool {
        matches!(self, Body::Stream(_))
    }

    /// The stream body, if this is one (its size hint, content type, origin).
    pub fn as_stream(&self) -> Option<&StreamBody> {
        match self {
            Body::Stream(stream) => Some(stream),
            _ => None,
        }
    }

    /// Takes the stream body out, leaving [`Body::Empty`]; `None` (and the
    /// body unchanged) if this is not a stream.
    pub fn take_stream(&mut self) -> Option<StreamBody> {
        match std::mem::take(self) {
            Body::Stream(stream) => Some(stream),
            other => {
                *self = other;
                None
            }
        }
    }

    /// A copy of the body; `None` for a stream, which cannot be copied.
    pub fn try_clone(&self) -> Option<Body> {
        Some(match self {
            Body::Empty => Body::Empty,
            Body::Text(s) => Body::Text(s.clone()),
            Body::Bytes(b) => Body::Bytes(b.clone()),
            Body::Json(s) => Body::Json(s.clone()),
            Body::Xml(s) => Body::Xml(s.clone()),
            Body::Stream(_) => return None,
        })
    }

    /// The body as text: the text of a text, JSON or XML body, or bytes that
    /// are valid UTF-8; `None` for an empty body, other bytes or a stream
    /// (read a stream with [`Body::into_reader`]).
    pub fn text(&self) -> Option<&str> {
        match self {
            Body::Text(s) | Body::Json(s) | Body::Xml(s) => Some(s),
            Body::Bytes(b) => std::str::from_utf8(b).ok(),
            Body::Empty | Body::Stream(_) => None,
        }
    }

    /// The body as bytes (empty for an empty body and for a stream: read a
    /// stream with [`Body::into_reader`]).
    pub fn bytes(&self) -> &[u8] {
        match self {
            Body::Text(s) | Body::Json(s) | Body::Xml(s) => s.as_bytes(),
            Body::Bytes(b) => b,
            Body::Empty | Body::Stream(_) => &[],
        }
    }

    /// The body parsed as JSON into `T` (from a JSON, text, XML or bytes body;
    /// a stream is a type-conversion error).
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, Error> {
        if self.is_empty() {
            return Err(Error::type_conversion("the body is empty, not JSON"));
        }
        if self.is_stream() {
            return Err(Error::type_conversion("the body is a stream: read it with Body::into_reader"));
        }
        serde_json::from_slice(self.bytes()).map_err(|e| Error::type_conversion(format!("the body is not valid JSON: {e}")))
    }

    /// Replaces the text of a text body with `f(text)`. An empty body stays
    /// empty; any other body is a type-conversion error.
    pub fn map_text(&mut self, f: impl FnOnce(&str) -> String) -> Result<(), Error> {
        match self {
            Body::Text(text) => *text = f(text),
            Body::Empty => {}
            other => {
                let kind = other.kind();
                return Err(Error::type_conversion(format!("expected a text body, not {kind}")));
            }
        }
        Ok(())
    }

    /// Replaces the body with a text body.
    pub fn set_text(&mut self, text: impl Into<String>) {
        *self = Body::Text(text.into());
    }

    /// Replaces the body with a binary body.
    pub fn set_bytes(&mut self, bytes: impl Into<Vec<u8>>) {
        *self = Body::Bytes(bytes.into());
    }

    /// Replaces the body with an XML body.
    pub fn set_xml(&mut self, xml: impl Into<String>) {
        *self = Body::Xml(xml.into());
    }

    /// Replaces the body with a JSON body holding `value` serialized.
    pub fn set_json<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        *self = Body::from_json(value)?;
        Ok(())
    }

    /// Replaces the body with [`Body::Empty`].
    pub fn clear(&mut self) {
        *self = Body::Empty;
    }
}

impl From<String> for Body {
    fn from(text: String) -> Self {
        Body::Text(text)
    }
}

impl From<&str> for Body {
    fn from(text: &str) -> Self {
        Body::Text(text.to_owned())
    }
}

impl From<Vec<u8>> for Body {
    fn from(bytes: Vec<u8>) -> Self {
        Body::Bytes(bytes)
    }
}

impl From<serde_json::Value> for Body {
    fn from(value: serde_json::Value) -> Self {
        Body::Json(value.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    #[test]
    fn text_of_each_variant() {
        assert_eq!(Body::from("hi").text(), Some("hi"));
        assert_eq!(Body::Json("{}".into()).text(), Some("{}"));
        assert_eq!(Body::Xml("<a/>".into()).text(), Some("<a/>"));
        assert_eq!(Body::Bytes(b"ok".to_vec()).text(), Some("ok"));
        assert_eq!(Body::Bytes(vec![0xff]).text(), None);
        assert_eq!(Body::Empty.text(), None);
    }

    #[test]
    fn bytes_of_each_variant() {
        assert_eq!(Body::from("hi").bytes(), b"hi");
        assert_eq!(Body::from(vec![1, 2]).bytes(), &[1, 2]);
        assert_eq!(Body::Empty.bytes(), b"");
    }

    #[test]
    fn json_parses_json_text_and_bytes_bodies() {
        let v: Value = Body::Json(r#"{"a":1}"#.into()).json().unwrap();
        assert_eq!(v, json!({"a": 1}));
        let n: u32 = Body::from("7").json().unwrap();
        assert_eq!(n, 7);
        let l: Vec<u8> = Body::from(b"[1,2]".to_vec()).json().unwrap();
        assert_eq!(l, vec![1, 2]);
    }

    #[test]
    fn json_errors_are_type_conversions() {
        assert!(matches!(Body::from("nope").json::<Value>(), Err(Error::TypeConversion(_))));
        assert!(matches!(Body::Empty.json::<Value>(), Err(Error::TypeConversion(_))));
    }

    #[test]
    fn map_text_maps_text_keeps_empty_and_rejects_the_rest() {
        let mut text = Body::from("abc");
        text.map_text(str::to_uppercase).unwrap();
        assert_eq!(text, Body::from("ABC"));
        let mut empty = Body::Empty;
        empty.map_text(|_| unreachable!()).unwrap();
        assert!(empty.is_empty());
        let err = Body::Json("{}".into()).map_text(str::to_uppercase).unwrap_err();
        assert_eq!(err, Error::type_conversion("expected a text body, not json"));
        assert_eq!(Body::Bytes(vec![]).kind(), "bytes");
    }

    #[test]
    fn setters_replace_the_body() {
        let mut b = Body::Empty;
        b.set_text("t");
        assert_eq!(b, Body::Text("t".into()));
        b.set_json(&json!({"k": [true]})).unwrap();
        assert_eq!(b, Body::Json(r#"{"k":[true]}"#.into()));
        b.set_xml("<x/>");
        assert_eq!(b, Body::Xml("<x/>".into()));
        b.set_bytes(vec![9]);
        assert_eq!(b, Body::Bytes(vec![9]));
        b.clear();
        assert!(b.is_empty());
        assert_eq!(Body::from(json!([1])), Body::Json("[1]".into()));
    }

    #[test]
    fn try_clone_copies_in_memory_bodies_and_take_stream_keeps_them() {
        for body in [Body::Empty, Body::from("t"), Body::from(vec![1]), Body::Json("1".into()), Body::Xml("<x/>".into())] {
            assert_eq!(body.try_clone().as_ref(), Some(&body));
            let mut kept = body.try_clone().unwrap();
            assert!(kept.take_stream().is_none());
            assert_eq!(kept, body);
            assert!(!body.is_stream() && body.as_stream().is_none());
        }
    }
}
