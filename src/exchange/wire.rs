//! Mapping between [`Exchange`] and the guest's `wasm-exchange`.
//!
//! On the wire a header or property is a string: a JSON string travels raw,
//! any other JSON value as its JSON text (rust-camel's encoding, so its guests
//! run unchanged). Coming back, a value whose wire text the guest left as it
//! was is restored from the exchange that was sent, type included; a changed
//! one is parsed as JSON, or kept as a string when it is not JSON.
//!
//! Each value is encoded once: [`to_wire`] moves the exchange into its wire
//! form and keeps, in [`Sent`], only what restoring reads: the typed values and
//! the wire text of those that are not strings. Text, bytes and XML bodies move
//! to the guest uncopied (restoring never reads them).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use serde_json::Value;

use super::{Body, Exchange, Message, Pattern};
use crate::bindings::{WasmBody, WasmExchange, WasmMessage, WasmPattern};

/// Why a guest's exchange could not be taken back.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// A `stream` body was left in the exchange after its stream was taken out.
    #[error("the guest returned a stream body where none can be drained")]
    StreamBody,
    /// The guest returned a `json` body that does not parse.
    #[error("the guest returned a json body that is not valid JSON: {0}")]
    InvalidJson(String),
}

/// The wire text of a header or property value.
pub(crate) fn encode_value(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A header or property value from its wire text: JSON when it parses, else a string.
pub(crate) fn decode_value(wire: String) -> Value {
    serde_json::from_str(&wire).unwrap_or(Value::String(wire))
}

/// Typed values as sent, with the wire text of each one that is not a string.
#[derive(Debug, Default, Clone)]
pub(crate) struct SentValues {
    values: BTreeMap<String, Value>,
    texts: HashMap<String, String>,
}

impl SentValues {
    /// Encodes `values` once: the wire pairs for the guest, and what restoring needs.
    fn encode(values: BTreeMap<String, Value>) -> (Vec<(String, String)>, Self) {
        let mut wire = Vec::with_capacity(values.len());
        let mut texts = HashMap::new();
        for (key, value) in &values {
            let text = encode_value(value);
            if !value.is_string() {
                texts.insert(key.clone(), text.clone());
            }
            wire.push((key.clone(), text));
        }
        (wire, Self { values, texts })
    }

    /// The wire text `key` was sent as.
    pub(crate) fn wire_text(&self, key: &str) -> Option<String> {
        match self.values.get(key)? {
            Value::String(s) => Some(s.clone()),
            _ => self.texts.get(key).cloned(),
        }
    }

    /// Whether `key` was sent as exactly `wire`.
    fn sent_as(&self, key: &str, wire: &str) -> bool {
        match self.values.get(key) {
            Some(Value::String(s)) => s == wire,
            Some(_) => self.texts.get(key).is_some_and(|t| t == wire),
            None => false,
        }
    }

    /// The value for `key`'s `wire` text: the sent one, moved out, when the guest left it unchanged.
    fn take(&mut self, key: &str, wire: String) -> Value {
        if self.sent_as(key, &wire)
            && let Some(value) = self.values.remove(key)
        {
            return value;
        }
        decode_value(wire)
    }

    /// Like [`take`](Self::take), leaving the sent value in place.
    fn restore(&self, key: &str, wire: String) -> Value {
        match self.values.get(key) {
            Some(value) if self.sent_as(key, &wire) => value.clone(),
            _ => decode_value(wire),
        }
    }
}

/// A message's headers and JSON body as sent.
#[derive(Debug, Default)]
struct SentMessage {
    headers: SentValues,
    /// A JSON body and the text it was sent as.
    json: Option<(Value, String)>,
}

/// The exchange's properties as sent, shared with `get-property` during the call (none: no properties).
pub(crate) type SentProperties = Option<Arc<SentValues>>;

/// What the host keeps of an exchange while a guest holds its wire form.
#[derive(Debug, Default)]
pub(crate) struct Sent {
    input: SentMessage,
    output: Option<SentMessage>,
    /// Shared with the call's `get-property`; whole again once the call has ended.
    pub(crate) properties: SentProperties,
    correlation_id: String,
    route_id: Option<String>,
    message_id: Option<String>,
}

fn body_to_wire(body: Body) -> (WasmBody, Option<(Value, String)>) {
    match body {
        Body::Empty => (WasmBody::Empty, None),
        Body::Text(s) => (WasmBody::Text(s), None),
        Body::Bytes(b) => (WasmBody::Bytes(b), None),
        Body::Json(v) => {
            let text = v.to_string();
            (WasmBody::Json(text.clone()), Some((v, text)))
        }
        Body::Xml(s) => (WasmBody::Xml(s), None),
        // Its stream travels apart (`stream::Streams`); a world without streams sees it empty.
        Body::Stream(_) => (WasmBody::Empty, None),
    }
}

fn body_from_wire(wire: WasmBody, json: Option<(Value, String)>) -> Result<Body, WireError> {
    Ok(match wire {
        WasmBody::Empty => Body::Empty,
        WasmBody::Text(s) => Body::Text(s),
        WasmBody::Bytes(b) => Body::Bytes(b),
        WasmBody::Json(s) => match json {
            Some((value, text)) if text == s => Body::Json(value),
            _ => Body::Json(serde_json::from_str(&s).map_err(|e| WireError::InvalidJson(e.to_string()))?),
        },
        WasmBody::Xml(s) => Body::Xml(s),
        WasmBody::Stream(_) => return Err(WireError::StreamBody),
    })
}

fn message_to_wire(message: Message) -> (WasmMessage, SentMessage) {
    let (headers, sent_headers) = SentValues::encode(message.headers);
    let (body, json) = body_to_wire(message.body);
    (WasmMessage { headers, body }, SentMessage { headers: sent_headers, json })
}

/// The guest's message: each header's value from `restore` (key, wire text), a JSON body against the one sent.
fn message_from_wire(
    wire: WasmMessage,
    mut restore: impl FnMut(&str, String) -> Value,
    json: Option<(Value, String)>,
) -> Result<Message, WireError> {
    // Inserted one by one: for the few headers of a message, cheaper than collecting (which sorts).
    let mut headers = BTreeMap::new();
    for (key, text) in wire.headers {
        let value = restore(&key, text);
        headers.insert(key, value);
    }
    Ok(Message { headers, body: body_from_wire(wire.body, json)? })
}

/// The `wasm-exchange` a guest receives for `exchange`, and what taking its answer back needs.
#[inline]
pub(crate) fn to_wire(exchange: Exchange) -> (WasmExchange, Sent) {
    let (input, sent_input) = message_to_wire(exchange.input);
    let (output, sent_output) = match exchange.output.map(message_to_wire) {
        Some((wire, sent)) => (Some(wire), Some(sent)),
        None => (None, None),
    };
    let (properties, sent_properties) = SentValues::encode(exchange.properties);
    let wire = WasmExchange {
        input,
        output,
        properties,
        pattern: match exchange.pattern {
            Pattern::InOnly => WasmPattern::InOnly,
            Pattern::InOut => WasmPattern::InOut,
        },
        correlation_id: exchange.correlation_id.clone(),
        route_id: exchange.route_id.clone(),
        message_id: exchange.message_id.clone(),
    };
    let sent = Sent {
        input: sent_input,
        output: sent_output,
        properties: (!sent_properties.values.is_empty()).then(|| Arc::new(sent_properties)),
        correlation_id: exchange.correlation_id,
        route_id: exchange.route_id,
        message_id: exchange.message_id,
    };
    (wire, sent)
}

/// The wire form of an exchange a guest only reads (a language's question):
/// values encoded once, moved, and nothing kept but the properties `get-property` reads.
pub(crate) fn to_wire_read_only(exchange: Exchange) -> (WasmExchange, SentProperties) {
    fn message(message: Message) -> WasmMessage {
        let headers = message
            .headers
            .into_iter()
            .map(|(key, value)| match value {
                Value::String(text) => (key, text),
                other => (key, other.to_string()),
            })
            .collect();
        let body = match message.body {
            Body::Json(value) => WasmBody::Json(value.to_string()),
            body => body_to_wire(body).0,
        };
        WasmMessage { headers, body }
    }
    let (properties, sent) = SentValues::encode(exchange.properties);
    let wire = WasmExchange {
        input: message(exchange.input),
        output: exchange.output.map(message),
        properties,
        pattern: match exchange.pattern {
            Pattern::InOnly => WasmPattern::InOnly,
            Pattern::InOut => WasmPattern::InOut,
        },
        correlation_id: exchange.correlation_id,
        route_id: exchange.route_id,
        message_id: exchange.message_id,
    };
    (wire, (!sent.values.is_empty()).then(|| Arc::new(sent)))
}

/// The exchange a guest handed back, given what was kept of the one `sent`.
///
/// Headers and bodies are the guest's. Properties are merged: those `sent`,
/// overlaid by those the guest returned, overlaid by those it set with
/// `set-property` (`set`); host-owned ones (`camel.auth.*`) stay as sent.
/// Correlation, route and message ids pass through unchanged from `sent`.
pub(crate) fn from_wire(wire: WasmExchange, sent: Sent, set: Vec<(String, String)>) -> Result<Exchange, WireError> {
    // A new output with no output sent is restored against the input: before the input takes its values.
    let mut input = sent.input;
    let output = match (wire.output, sent.output) {
        (Some(out), Some(mut sent)) => Some(message_from_wire(out, |k, t| sent.headers.take(k, t), sent.json.take())?),
        (Some(out), None) => Some(message_from_wire(out, |k, t| input.headers.restore(k, t), input.json.clone())?),
        (None, _) => None,
    };
    let input = message_from_wire(wire.input, |k, t| input.headers.take(k, t), input.json.take())?;
    // The call has ended, so `get-property` let go of the sent properties: no copy is made.
    let sent_properties = match sent.properties {
        None => SentValues::default(),
        Some(shared) => Arc::unwrap_or_clone(shared),
    };
    // Host-owned properties (the identity) keep the values sent, whatever the guest returns.
    let guests = |(key, _): &(String, String)| !crate::exchange::is_host_owned(key);
    let unchanged = set.is_empty() && wire.properties.iter().filter(|p| guests(p)).all(|(k, t)| sent_properties.sent_as(k, t));
    let properties = if unchanged {
        sent_properties.values
    } else {
        // The last text given for each key wins (what the guest set, over what it returned),
        // and is compared with the text sent.
        let mut last: HashMap<String, String> = HashMap::with_capacity(wire.properties.len() + set.len());
        last.extend(wire.properties.into_iter().filter(guests).chain(set.into_iter().filter(guests)));
        let changed: Vec<(String, Value)> = last
            .into_iter()
            .filter(|(key, text)| !sent_properties.sent_as(key, text))
            .map(|(key, text)| (key, decode_value(text)))
            .collect();
        let mut properties = sent_properties.values;
        properties.extend(changed);
        properties
    };
    Ok(Exchange {
        input,
        output,
        properties,
        pattern: match wire.pattern {
            WasmPattern::InOnly => Pattern::InOnly,
            WasmPattern::InOut => Pattern::InOut,
        },
        correlation_id: sent.correlation_id,
        route_id: sent.route_id,
        message_id: sent.message_id,
    })
}

/// An exchange a guest made itself (a source's submit): every value decoded, its ids its own.
pub(crate) fn from_guest(mut wire: WasmExchange) -> Result<Exchange, WireError> {
    let ids = (std::mem::take(&mut wire.correlation_id), wire.route_id.take(), wire.message_id.take());
    let mut exchange = from_wire(wire, Sent::default(), Vec::new())?;
    (exchange.correlation_id, exchange.route_id, exchange.message_id) = ids;
    Ok(exchange)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sample() -> Exchange {
        let mut ex = Exchange::new("hi")
            .with_header("s42", "42")
            .with_header("n42", 42)
            .with_header("obj", json!({"a": [1, 2]}))
            .with_header("null", Value::Null)
            .with_property("flag", true)
            .with_property("str-true", "true");
        ex.route_id = Some("r1".into());
        ex.message_id = Some("m1".into());
        ex.correlation_id = "c1".into();
        ex
    }

    /// `sent` through the wire and back, the guest's part played by `guest`.
    fn round_trip(sent: &Exchange, guest: impl FnOnce(&mut WasmExchange), set: Vec<(String, String)>) -> Exchange {
        let (mut wire, kept) = to_wire(sent.clone());
        guest(&mut wire);
        from_wire(wire, kept, set).unwrap()
    }

    #[test]
    fn set_properties_are_compared_with_what_was_sent_not_what_was_returned() {
        let sent = sample();
        let set = vec![("flag".to_string(), "true".to_string())];
        let back = round_trip(&sent, |wire| wire.properties.push(("flag".into(), "0".into())), set);
        assert_eq!(back.properties["flag"], json!(true), "set back to the sent text: the sent value");
    }

    #[test]
    fn a_new_output_takes_types_from_the_input_and_json_bodies_keep_their_value() {
        let mut sent = sample();
        sent.input.body = Body::Json(json!({"n": 1.0}));
        let back = round_trip(
            &sent,
            |wire| {
                let headers = wire.input.headers.iter().filter(|(k, _)| k == "n42").cloned().collect();
                let WasmBody::Json(text) = &wire.input.body else { panic!("a json body") };
                wire.output = Some(WasmMessage { headers, body: WasmBody::Json(text.clone()) });
            },
            vec![],
        );
        let output = back.output.as_ref().unwrap();
        assert_eq!(output.headers["n42"], json!(42));
        assert_eq!(output.body, Body::Json(json!({"n": 1.0})));
        assert_eq!(back.input, sent.input);
        assert_eq!(back.properties, sent.properties);
    }

    #[test]
    fn get_property_sees_the_wire_text_sent() {
        let (_, kept) = to_wire(sample());
        let properties = kept.properties.unwrap();
        assert_eq!(properties.wire_text("flag").as_deref(), Some("true"));
        assert_eq!(properties.wire_text("str-true").as_deref(), Some("true"));
        assert_eq!(properties.wire_text("nope"), None);
        assert!(to_wire(Exchange::new("")).1.properties.is_none(), "nothing shared for no properties");
    }

    #[test]
    fn encodes_strings_raw_and_other_values_as_json() {
        let (wire, _) = to_wire(sample());
        let h: BTreeMap<_, _> = wire.input.headers.into_iter().collect();
        assert_eq!(h["s42"], "42");
        assert_eq!(h["n42"], "42");
        assert_eq!(h["obj"], r#"{"a":[1,2]}"#);
        assert_eq!(h["null"], "null");
    }

    #[test]
    fn untouched_values_come_back_with_their_type() {
        let sent = sample();
        let back = round_trip(&sent, |_| {}, vec![]);
        assert_eq!(back, sent);
        assert_eq!(back.input.headers["s42"], json!("42"));
        assert_eq!(back.input.headers["n42"], json!(42));
        assert_eq!(back.properties["str-true"], json!("true"));
    }

    #[test]
    fn changed_values_are_parsed_and_set_properties_win() {
        let sent = sample();
        let set = vec![("flag".to_string(), "false".to_string())];
        let back = round_trip(
            &sent,
            |wire| {
                wire.input.headers.push(("new".into(), "7".into()));
                wire.properties.push(("returned".into(), "yes".into()));
            },
            set,
        );
        assert_eq!(back.input.headers["new"], json!(7));
        assert_eq!(back.properties["returned"], json!("yes"));
        assert_eq!(back.properties["flag"], json!(false));
    }

    #[test]
    fn ids_pass_through_and_bad_bodies_are_errors() {
        let sent = sample();
        let (mut wire, kept) = to_wire(sent.clone());
        wire.route_id = None;
        wire.input.body = WasmBody::Json("{not json".into());
        assert!(matches!(from_wire(wire, kept, vec![]), Err(WireError::InvalidJson(_))));
        let back = round_trip(&sent, |wire| wire.route_id = Some("other".into()), vec![]);
        assert_eq!(back.route_id.as_deref(), Some("r1"));
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        /// Arbitrary JSON values, nested a few levels.
        pub(crate) fn json_value() -> impl Strategy<Value = Value> {
            let leaf = prop_oneof![
                Just(Value::Null),
                any::<bool>().prop_map(Value::from),
                any::<i64>().prop_map(Value::from),
                any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(Value::from),
                ".{0,12}".prop_map(Value::from),
                "[0-9]{1,4}".prop_map(Value::from),
                Just(Value::from("true")),
            ];
            leaf.prop_recursive(3, 24, 4, |inner| {
                prop_oneof![
                    prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
                    prop::collection::btree_map(".{0,6}", inner, 0..4).prop_map(|m| Value::Object(m.into_iter().collect())),
                ]
            })
        }

        fn exchange() -> impl Strategy<Value = Exchange> {
            let map = || prop::collection::btree_map("[a-z.-]{1,10}", json_value(), 0..6);
            (map(), map(), ".{0,20}", prop::option::of("[a-z0-9-]{1,8}")).prop_map(|(headers, properties, body, route)| {
                let mut ex = Exchange::new(body);
                ex.input.headers = headers;
                ex.properties = properties;
                ex.route_id = route;
                ex
            })
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(256))]

            #[test]
            fn an_untouched_exchange_comes_back_identical(sent in exchange()) {
                let back = round_trip(&sent, |_| {}, vec![]);
                prop_assert_eq!(back, sent);
            }

            #[test]
            fn a_changed_value_decodes_to_what_its_wire_text_says(value in json_value()) {
                let sent = Exchange::new("x");
                let back = round_trip(&sent, |wire| wire.input.headers.push(("k".into(), encode_value(&value))), vec![]);
                prop_assert_eq!(back.input.headers["k"].clone(), decode_value(encode_value(&value)));
            }
        }
    }
}
