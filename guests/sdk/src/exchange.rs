//! [`Exchange`] and [`Message`], and their lossless conversion to and from the WIT types.

use crate::bindings::types::{WasmBody, WasmExchange, WasmMessage, WasmPattern};
use crate::{Body, Error, Fields};
use serde::de::DeserializeOwned;
use serde_json::Value;

/// The message exchange pattern.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Pattern {
    /// One-way: no reply expected.
    #[default]
    InOnly,
    /// Request-reply.
    InOut,
}

/// One message: headers and a body.
///
/// Not `Clone`: its body may be a stream, which can be read only once.
#[derive(Debug, Default, PartialEq)]
pub struct Message {
    /// The headers.
    pub headers: Fields,
    /// The body.
    pub body: Body,
}

/// The exchange in flight, as a guest sees and returns it.
///
/// The header and body helpers work on the `input` message, which is the
/// message a plugin transforms. Not `Clone`, because a body may be a stream.
#[derive(Debug, Default, PartialEq)]
pub struct Exchange {
    /// The incoming message.
    pub input: Message,
    /// The output message, if one was set.
    pub output: Option<Message>,
    /// The exchange properties.
    pub properties: Fields,
    /// The exchange pattern.
    pub pattern: Pattern,
    /// The correlation id.
    pub correlation_id: String,
    /// The id of the route processing the exchange, if known.
    pub route_id: Option<String>,
    /// The message id, if known.
    pub message_id: Option<String>,
}

impl Message {
    /// A copy of the message; `None` if its body is a stream, which cannot be copied.
    pub fn try_clone(&self) -> Option<Message> {
        Some(Message { headers: self.headers.clone(), body: self.body.try_clone()? })
    }
}

impl Exchange {
    /// A copy of the exchange; `None` if a body is a stream, which cannot be copied.
    pub fn try_clone(&self) -> Option<Exchange> {
        Some(Exchange {
            input: self.input.try_clone()?,
            output: match &self.output {
                Some(output) => Some(output.try_clone()?),
                None => None,
            },
            properties: self.properties.clone(),
            pattern: self.pattern,
            correlation_id: self.correlation_id.clone(),
            route_id: self.route_id.clone(),
            message_id: self.message_id.clone(),
        })
    }

    /// An in-only exchange whose input has `body`.
    pub fn new(body: impl Into<Body>) -> Self {
        Exchange { input: Message { headers: Fields::new(), body: body.into() }, ..Exchange::default() }
    }

    /// The input body.
    pub fn body(&self) -> &Body {
        &self.input.body
    }

    /// The input body, mutably.
    pub fn body_mut(&mut self) -> &mut Body {
        &mut self.input.body
    }

    /// Replaces the input body.
    pub fn set_body(&mut self, body: impl Into<Body>) {
        self.input.body = body.into();
    }

    /// Takes the input body out, leaving [`Body::Empty`]: how to get an
    /// input stream to read (`ex.take_body().into_reader()`).
    pub fn take_body(&mut self) -> Body {
        std::mem::take(&mut self.input.body)
    }

    /// An input header as text (see [`Fields::get_str`]).
    pub fn header_str(&self, key: &str) -> Option<&str> {
        self.input.headers.get_str(key)
    }

    /// An input header as a JSON value.
    pub fn header_value(&self, key: &str) -> Option<&Value> {
        self.input.headers.get(key)
    }

    /// An input header deserialized into `T` (see [`Fields::get_as`]).
    pub fn header<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, Error> {
        self.input.headers.get_as(key)
    }

    /// Sets an input header.
    pub fn set_header(&mut self, key: impl Into<String>, value: impl Into<Value>) {
        self.input.headers.set(key, value);
    }

    /// Removes an input header, returning its value.
    pub fn remove_header(&mut self, key: &str) -> Option<Value> {
        self.input.headers.remove(key)
    }

    /// A property of this exchange copy as text (see [`Fields::get_str`]).
    ///
    /// [`crate::property`] asks the host instead.
    pub fn property_str(&self, key: &str) -> Option<&str> {
        self.properties.get_str(key)
    }

    /// A property as a JSON value.
    pub fn property_value(&self, key: &str) -> Option<&Value> {
        self.properties.get(key)
    }

    /// A property deserialized into `T` (see [`Fields::get_as`]).
    pub fn property<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, Error> {
        self.properties.get_as(key)
    }

    /// Sets a property on this exchange copy, returned to the host with it.
    ///
    /// [`crate::set_property`] sets it on the host directly.
    pub fn set_property(&mut self, key: impl Into<String>, value: impl Into<Value>) {
        self.properties.set(key, value);
    }

    /// Removes a property, returning its value.
    pub fn remove_property(&mut self, key: &str) -> Option<Value> {
        self.properties.remove(key)
    }
}

impl From<WasmPattern> for Pattern {
    fn from(p: WasmPattern) -> Self {
        match p {
            WasmPattern::InOnly => Pattern::InOnly,
            WasmPattern::InOut => Pattern::InOut,
        }
    }
}

impl From<Pattern> for WasmPattern {
    fn from(p: Pattern) -> Self {
        match p {
            Pattern::InOnly => WasmPattern::InOnly,
            Pattern::InOut => WasmPattern::InOut,
        }
    }
}

impl From<WasmBody> for Body {
    fn from(body: WasmBody) -> Self {
        match body {
            WasmBody::Empty => Body::Empty,
            WasmBody::Text(s) => Body::Text(s),
            WasmBody::Bytes(b) => Body::Bytes(b),
            WasmBody::Json(s) => Body::Json(s),
            WasmBody::Xml(s) => Body::Xml(s),
            WasmBody::Stream(handle) => Body::Stream(handle.into()),
        }
    }
}

impl From<Body> for WasmBody {
    fn from(body: Body) -> Self {
        match body {
            Body::Empty => WasmBody::Empty,
            Body::Text(s) => WasmBody::Text(s),
            Body::Bytes(b) => WasmBody::Bytes(b),
            Body::Json(s) => WasmBody::Json(s),
            Body::Xml(s) => WasmBody::Xml(s),
            Body::Stream(stream) => WasmBody::Stream(stream.into()),
        }
    }
}

impl From<WasmMessage> for Message {
    fn from(m: WasmMessage) -> Self {
        Message { headers: Fields::from_wire(m.headers), body: m.body.into() }
    }
}

impl From<Message> for WasmMessage {
    fn from(m: Message) -> Self {
        WasmMessage { headers: m.headers.into_wire(), body: m.body.into() }
    }
}

impl From<WasmExchange> for Exchange {
    fn from(e: WasmExchange) -> Self {
        Exchange {
            input: e.input.into(),
            output: e.output.map(Message::from),
            properties: Fields::from_wire(e.properties),
            pattern: e.pattern.into(),
            correlation_id: e.correlation_id,
            route_id: e.route_id,
            message_id: e.message_id,
        }
    }
}

impl From<Exchange> for WasmExchange {
    fn from(e: Exchange) -> Self {
        WasmExchange {
            input: e.input.into(),
            output: e.output.map(Into::into),
            properties: e.properties.into_wire(),
            pattern: e.pattern.into(),
            correlation_id: e.correlation_id,
            route_id: e.route_id,
            message_id: e.message_id,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn sample() -> WasmExchange {
        WasmExchange {
            input: WasmMessage {
                headers: pairs(&[("a-num", "42"), ("b-text", "hi"), ("c-obj", r#"{"x": 1}"#)]),
                body: WasmBody::Json(r#"{ "z": 1, "a": 2 }"#.into()),
            },
            output: Some(WasmMessage { headers: pairs(&[("o", "1")]), body: WasmBody::Xml("<o/>".into()) }),
            properties: pairs(&[("camel.auth.roles", r#"["admin","ops"]"#), ("p", "\"7\"")]),
            pattern: WasmPattern::InOut,
            correlation_id: "corr-1".into(),
            route_id: Some("route-1".into()),
            message_id: None,
        }
    }

    /// The WIT types derive no `PartialEq`; compare their debug text.
    fn same(a: &WasmExchange, b: &WasmExchange) -> bool {
        format!("{a:?}") == format!("{b:?}")
    }

    #[test]
    fn untouched_exchange_round_trips_exactly() {
        let ex = Exchange::from(sample());
        assert!(same(&WasmExchange::from(ex), &sample()));
    }

    #[test]
    fn fields_are_read_as_json() {
        let ex = Exchange::from(sample());
        assert_eq!(ex.header::<u32>("a-num").unwrap(), Some(42));
        assert_eq!(ex.header_str("b-text"), Some("hi"));
        assert_eq!(ex.header_value("c-obj"), Some(&json!({"x": 1})));
        assert_eq!(ex.property::<Vec<String>>("camel.auth.roles").unwrap().unwrap(), ["admin", "ops"]);
        assert_eq!(ex.property_str("p"), Some("7"));
        assert_eq!(ex.pattern, Pattern::InOut);
        assert_eq!(ex.correlation_id, "corr-1");
        assert_eq!(ex.route_id.as_deref(), Some("route-1"));
        assert_eq!(ex.output.as_ref().unwrap().body, Body::Xml("<o/>".into()));
    }

    #[test]
    fn only_changed_entries_are_re_encoded() {
        let mut ex = Exchange::from(sample());
        ex.set_header("b-text", "bye");
        ex.set_header("d-new", 5);
        ex.remove_header("c-obj");
        ex.set_property("added", json!(["x"]));
        ex.body_mut().set_text("body");
        let out = WasmExchange::from(ex);
        assert_eq!(out.input.headers, pairs(&[("a-num", "42"), ("b-text", "bye"), ("d-new", "5")]));
        assert_eq!(out.properties, pairs(&[("added", r#"["x"]"#), ("camel.auth.roles", r#"["admin","ops"]"#), ("p", "\"7\"")]));
        assert!(matches!(out.input.body, WasmBody::Text(ref t) if t == "body"));
        assert!(out.output.is_some());
    }

    #[test]
    fn try_clone_and_take_body() {
        let mut ex = Exchange::from(sample());
        assert_eq!(ex.try_clone().as_ref(), Some(&ex));
        assert_eq!(ex.take_body(), Body::Json(r#"{ "z": 1, "a": 2 }"#.into()));
        assert!(ex.body().is_empty());
    }

    #[test]
    fn new_builds_an_in_only_exchange() {
        let ex = Exchange::new("hi");
        assert_eq!(ex.body(), &Body::Text("hi".into()));
        assert_eq!(ex.pattern, Pattern::InOnly);
        let out = WasmExchange::from(ex);
        assert!(out.output.is_none() && out.properties.is_empty());
    }
}
