//! Mapping between [`Exchange`] and the guest's `wasm-exchange`.
//!
//! On the wire a header or property is a string: a JSON string travels raw,
//! any other JSON value as its JSON text (rust-camel's encoding, so its guests
//! run unchanged). Coming back, a value whose wire text the guest left as it
//! was is restored from the exchange that was sent, type included; a changed
//! one is parsed as JSON, or kept as a string when it is not JSON.

use std::collections::BTreeMap;

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

/// Whether `value` travels as exactly `wire`.
fn encodes_to(value: &Value, wire: &str) -> bool {
    match value {
        Value::String(s) => s == wire,
        other => other.to_string() == wire,
    }
}

/// The value for `wire`: the original one when the guest left it unchanged.
fn restore(original: Option<&Value>, wire: String) -> Value {
    match original {
        Some(value) if encodes_to(value, &wire) => value.clone(),
        _ => decode_value(wire),
    }
}

fn encode_map(map: &BTreeMap<String, Value>) -> Vec<(String, String)> {
    map.iter().map(|(k, v)| (k.clone(), encode_value(v))).collect()
}

fn restore_into(
    map: &mut BTreeMap<String, Value>,
    original: &BTreeMap<String, Value>,
    wire: impl IntoIterator<Item = (String, String)>,
) {
    for (key, text) in wire {
        let value = restore(original.get(&key), text);
        map.insert(key, value);
    }
}

fn body_to_wire(body: &Body) -> WasmBody {
    match body {
        Body::Empty => WasmBody::Empty,
        Body::Text(s) => WasmBody::Text(s.clone()),
        Body::Bytes(b) => WasmBody::Bytes(b.clone()),
        Body::Json(v) => WasmBody::Json(v.to_string()),
        Body::Xml(s) => WasmBody::Xml(s.clone()),
        // Its stream travels apart (`stream::Streams`); a world without streams sees it empty.
        Body::Stream(_) => WasmBody::Empty,
    }
}

fn body_from_wire(wire: WasmBody, original: Option<&Body>) -> Result<Body, WireError> {
    Ok(match wire {
        WasmBody::Empty => Body::Empty,
        WasmBody::Text(s) => Body::Text(s),
        WasmBody::Bytes(b) => Body::Bytes(b),
        WasmBody::Json(s) => match original {
            Some(Body::Json(v)) if v.to_string() == s => Body::Json(v.clone()),
            _ => Body::Json(serde_json::from_str(&s).map_err(|e| WireError::InvalidJson(e.to_string()))?),
        },
        WasmBody::Xml(s) => Body::Xml(s),
        WasmBody::Stream(_) => return Err(WireError::StreamBody),
    })
}

fn message_to_wire(message: &Message) -> WasmMessage {
    WasmMessage { headers: encode_map(&message.headers), body: body_to_wire(&message.body) }
}

fn message_from_wire(wire: WasmMessage, original: Option<&Message>) -> Result<Message, WireError> {
    let empty = BTreeMap::new();
    let mut headers = BTreeMap::new();
    restore_into(&mut headers, original.map_or(&empty, |m| &m.headers), wire.headers);
    let body = body_from_wire(wire.body, original.map(|m| &m.body))?;
    Ok(Message { headers, body })
}

/// The `wasm-exchange` a guest receives for `exchange`.
pub(crate) fn to_wire(exchange: &Exchange) -> WasmExchange {
    WasmExchange {
        input: message_to_wire(&exchange.input),
        output: exchange.output.as_ref().map(message_to_wire),
        properties: encode_map(&exchange.properties),
        pattern: match exchange.pattern {
            Pattern::InOnly => WasmPattern::InOnly,
            Pattern::InOut => WasmPattern::InOut,
        },
        correlation_id: exchange.correlation_id.clone(),
        route_id: exchange.route_id.clone(),
        message_id: exchange.message_id.clone(),
    }
}

/// The exchange a guest handed back, given the one that was `sent`.
///
/// Headers and bodies are the guest's. Properties are merged: those `sent`,
/// overlaid by those the guest returned, overlaid by those it set with
/// `set-property` (`set`); host-owned ones (`camel.auth.*`) stay as sent.
/// Correlation, route and message ids pass through unchanged from `sent`.
pub(crate) fn from_wire(wire: WasmExchange, sent: &Exchange, set: Vec<(String, String)>) -> Result<Exchange, WireError> {
    let input = message_from_wire(wire.input, Some(&sent.input))?;
    let output = match wire.output {
        Some(out) => Some(message_from_wire(out, sent.output.as_ref().or(Some(&sent.input)))?),
        None => None,
    };
    // Host-owned properties (the identity) keep the values sent, whatever the guest returns.
    let guests = |(key, _): &(String, String)| !crate::exchange::is_host_owned(key);
    let mut properties = sent.properties.clone();
    restore_into(&mut properties, &sent.properties, wire.properties.into_iter().filter(guests));
    restore_into(&mut properties, &sent.properties, set.into_iter().filter(guests));
    Ok(Exchange {
        input,
        output,
        properties,
        pattern: match wire.pattern {
            WasmPattern::InOnly => Pattern::InOnly,
            WasmPattern::InOut => Pattern::InOut,
        },
        correlation_id: sent.correlation_id.clone(),
        route_id: sent.route_id.clone(),
        message_id: sent.message_id.clone(),
    })
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

    #[test]
    fn encodes_strings_raw_and_other_values_as_json() {
        let wire = to_wire(&sample());
        let h: BTreeMap<_, _> = wire.input.headers.into_iter().collect();
        assert_eq!(h["s42"], "42");
        assert_eq!(h["n42"], "42");
        assert_eq!(h["obj"], r#"{"a":[1,2]}"#);
        assert_eq!(h["null"], "null");
    }

    #[test]
    fn untouched_values_come_back_with_their_type() {
        let sent = sample();
        let back = from_wire(to_wire(&sent), &sent, vec![]).unwrap();
        assert_eq!(back, sent);
        assert_eq!(back.input.headers["s42"], json!("42"));
        assert_eq!(back.input.headers["n42"], json!(42));
        assert_eq!(back.properties["str-true"], json!("true"));
    }

    #[test]
    fn changed_values_are_parsed_and_set_properties_win() {
        let sent = sample();
        let mut wire = to_wire(&sent);
        wire.input.headers.push(("new".into(), "7".into()));
        wire.properties.push(("returned".into(), "yes".into()));
        let set = vec![("flag".to_string(), "false".to_string())];
        let back = from_wire(wire, &sent, set).unwrap();
        assert_eq!(back.input.headers["new"], json!(7));
        assert_eq!(back.properties["returned"], json!("yes"));
        assert_eq!(back.properties["flag"], json!(false));
    }

    #[test]
    fn ids_pass_through_and_bad_bodies_are_errors() {
        let sent = sample();
        let mut wire = to_wire(&sent);
        wire.route_id = None;
        wire.input.body = WasmBody::Json("{not json".into());
        assert!(matches!(from_wire(wire, &sent, vec![]), Err(WireError::InvalidJson(_))));
        let mut wire = to_wire(&sent);
        wire.route_id = Some("other".into());
        assert_eq!(from_wire(wire, &sent, vec![]).unwrap().route_id.as_deref(), Some("r1"));
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
                let back = from_wire(to_wire(&sent), &sent, vec![]).unwrap();
                prop_assert_eq!(back, sent);
            }

            #[test]
            fn a_changed_value_decodes_to_what_its_wire_text_says(value in json_value()) {
                let sent = Exchange::new("x");
                let mut wire = to_wire(&sent);
                wire.input.headers.push(("k".into(), encode_value(&value)));
                let back = from_wire(wire, &sent, vec![]).unwrap();
                prop_assert_eq!(back.input.headers["k"].clone(), decode_value(encode_value(&value)));
            }
        }
    }
}
