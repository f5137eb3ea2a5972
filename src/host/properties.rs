//! `get-property` and `set-property`: the properties of the exchange in flight.
//!
//! What a guest sets is bounded per call (`max-properties` distinct keys,
//! `max-property-bytes` of keys plus values); each set is O(1). Going over a
//! bound traps the guest at once, and the call fails with
//! [`WasmError::LimitExceeded`](crate::WasmError::LimitExceeded) naming it.

use crate::exchange::is_host_owned;
use crate::exchange::wire::SentProperties;
use std::collections::HashMap;

use crate::knobs;

/// Bounds on what a guest may set with `set-property` in one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PropertyBounds {
    /// Most distinct keys set.
    pub max_count: usize,
    /// Most bytes of keys plus values set.
    pub max_bytes: usize,
}

impl Default for PropertyBounds {
    /// The `max-properties` and `max-property-bytes` defaults of the knob table.
    fn default() -> Self {
        Self {
            max_count: const { knobs::default_number("max-properties") } as usize,
            max_bytes: const { knobs::default_number("max-property-bytes") } as usize,
        }
    }
}

/// Why `set-property` stopped a guest.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PropertyError {
    /// One more distinct key would pass `max-properties`.
    #[error("set-property: more than {max} properties set in one call (max-properties)")]
    TooMany {
        /// The bound.
        max: usize,
    },
    /// The keys and values set would pass `max-property-bytes`.
    #[error("set-property: properties set in one call would take {bytes} bytes, over max-property-bytes of {max}")]
    TooLarge {
        /// The bytes the set would have taken.
        bytes: usize,
        /// The bound.
        max: usize,
    },
}

impl PropertyError {
    /// The knob the guest went over.
    pub fn knob(&self) -> &'static str {
        match self {
            Self::TooMany { .. } => "max-properties",
            Self::TooLarge { .. } => "max-property-bytes",
        }
    }

    /// The knob's value.
    pub fn max(&self) -> u64 {
        match self {
            Self::TooMany { max } | Self::TooLarge { max, .. } => *max as u64,
        }
    }
}

/// The properties of one call: those sent (read-only, shared with the caller) and those the guest set.
pub(crate) struct PropertyScope {
    sent: SentProperties,
    set: HashMap<String, String>,
    set_bytes: usize,
    bounds: PropertyBounds,
    /// The bound a guest went over during this call, if it did.
    pub(crate) exceeded: Option<PropertyError>,
}

impl PropertyScope {
    pub(crate) fn new(bounds: PropertyBounds) -> Self {
        Self { sent: None, set: HashMap::new(), set_bytes: 0, bounds, exceeded: None }
    }

    /// Starts a call over the exchange's properties as sent.
    pub(crate) fn begin(&mut self, sent: SentProperties) {
        self.sent = sent;
        self.set.clear();
        self.set_bytes = 0;
        self.exceeded = None;
    }

    /// Ends a call: what the guest set, leaving nothing for the next call
    /// (and the sent properties to the caller alone).
    pub(crate) fn end(&mut self) -> Vec<(String, String)> {
        self.sent = None;
        self.set_bytes = 0;
        self.set.drain().collect()
    }

    /// The wire value of `key`: what the guest set, else what was sent.
    pub(crate) fn get(&self, key: &str) -> Option<String> {
        match self.set.get(key) {
            Some(value) => Some(value.clone()),
            None => self.sent.as_ref()?.wire_text(key),
        }
    }

    /// Sets `key` within the bounds, in O(1); a host-owned key is ignored.
    pub(crate) fn set(&mut self, key: String, value: String) -> Result<(), PropertyError> {
        if is_host_owned(&key) {
            return Ok(());
        }
        let result = self.try_set(key, value);
        if let Err(e) = &result {
            self.exceeded = Some(e.clone());
        }
        result
    }

    fn try_set(&mut self, key: String, value: String) -> Result<(), PropertyError> {
        let bounds = self.bounds;
        let (count, bytes) = match self.set.get(&key) {
            Some(old) => (self.set.len(), self.set_bytes - old.len() + value.len()),
            None => (self.set.len() + 1, self.set_bytes.saturating_add(key.len()).saturating_add(value.len())),
        };
        if count > bounds.max_count {
            return Err(PropertyError::TooMany { max: bounds.max_count });
        }
        if bytes > bounds.max_bytes {
            return Err(PropertyError::TooLarge { bytes, max: bounds.max_bytes });
        }
        self.set_bytes = bytes;
        self.set.insert(key, value);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope(max_count: usize, max_bytes: usize) -> PropertyScope {
        PropertyScope::new(PropertyBounds { max_count, max_bytes })
    }

    /// The properties of an exchange sent with `pairs`.
    fn sent(pairs: &[(&str, serde_json::Value)]) -> SentProperties {
        let mut exchange = crate::exchange::Exchange::new("");
        exchange.properties.extend(pairs.iter().map(|(k, v)| (k.to_string(), v.clone())));
        crate::exchange::wire::to_wire(exchange).1.properties
    }

    #[test]
    fn reads_and_writes_the_exchange_in_flight() {
        let mut props = scope(8, 1024);
        props.begin(sent(&[("a", 1.into()), ("b", "x".into())]));
        assert_eq!(props.get("a").as_deref(), Some("1"));
        assert_eq!(props.get("b").as_deref(), Some("x"));
        assert_eq!(props.get("zz"), None);
        props.set("b".into(), "y".into()).unwrap();
        props.set("c".into(), "new".into()).unwrap();
        assert_eq!(props.get("c").as_deref(), Some("new"));
        assert_eq!(props.get("b").as_deref(), Some("y"));
        let mut set = props.end();
        set.sort();
        assert_eq!(set, vec![("b".to_string(), "y".to_string()), ("c".to_string(), "new".to_string())]);
        assert_eq!(props.get("a"), None, "nothing leaks into the next call");
    }

    #[test]
    fn the_count_bound_is_an_error_naming_max_properties() {
        let mut props = scope(2, 1024);
        props.begin(sent(&[]));
        props.set("a".into(), "1".into()).unwrap();
        props.set("b".into(), "1".into()).unwrap();
        props.set("a".into(), "2".into()).unwrap();
        let err = props.set("c".into(), "1".into()).unwrap_err();
        assert_eq!(err, PropertyError::TooMany { max: 2 });
        assert_eq!(err.knob(), "max-properties");
        assert_eq!(props.exceeded, Some(err));
    }

    #[test]
    fn the_byte_bound_counts_keys_and_values_and_replacements() {
        let mut props = scope(100, 10);
        props.begin(sent(&[]));
        props.set("ab".into(), "123".into()).unwrap(); // 5
        props.set("ab".into(), "12345678".into()).unwrap(); // 10
        let err = props.set("ab".into(), "123456789".into()).unwrap_err();
        assert_eq!(err, PropertyError::TooLarge { bytes: 11, max: 10 });
        assert_eq!(err.knob(), "max-property-bytes");
        props.set("ab".into(), "1".into()).unwrap(); // 3
        props.set("c".into(), "123456".into()).unwrap(); // 10
        assert!(props.set("d".into(), String::new()).is_err());
        props.begin(sent(&[]));
        assert_eq!(props.exceeded, None, "a new call starts clean");
    }
}
