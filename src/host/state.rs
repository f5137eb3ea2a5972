//! `host-store` and `host-load`: bounded string state per endpoint that survives across calls.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Bounds on one endpoint's `host-store` state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StateBounds {
    /// Most keys an endpoint may hold.
    pub max_entries: usize,
    /// Longest key, in bytes.
    pub max_key_bytes: usize,
    /// Longest value, in bytes.
    pub max_value_bytes: usize,
}

impl Default for StateBounds {
    fn default() -> Self {
        crate::Limits::default().state_bounds()
    }
}

/// Why `host-store` refused a write.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StateError {
    /// The key is longer than the bound.
    #[error("host-store: key of {len} bytes exceeds the {max}-byte bound")]
    KeyTooLong {
        /// Length of the key.
        len: usize,
        /// The bound.
        max: usize,
    },
    /// The value is longer than the bound.
    #[error("host-store: value of {len} bytes for key '{key}' exceeds the {max}-byte bound")]
    ValueTooLong {
        /// The key written.
        key: String,
        /// Length of the value.
        len: usize,
        /// The bound.
        max: usize,
    },
    /// A new key would exceed the entry bound.
    #[error("host-store: the store is full ({max} entries); key '{key}' not stored")]
    Full {
        /// The key written.
        key: String,
        /// The bound.
        max: usize,
    },
}

/// One endpoint's state: shared by every instance of that endpoint, cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct StateStore {
    entries: Arc<Mutex<HashMap<String, String>>>,
    bounds: StateBounds,
}

impl StateStore {
    /// An empty store with `bounds`.
    pub fn new(bounds: StateBounds) -> Self {
        Self { entries: Arc::default(), bounds }
    }

    /// Stores `value` under `key`, or says which bound it hits.
    pub fn store(&self, key: String, value: String) -> Result<(), StateError> {
        let bounds = self.bounds;
        if key.len() > bounds.max_key_bytes {
            return Err(StateError::KeyTooLong { len: key.len(), max: bounds.max_key_bytes });
        }
        if value.len() > bounds.max_value_bytes {
            return Err(StateError::ValueTooLong { key, len: value.len(), max: bounds.max_value_bytes });
        }
        let mut entries = self.entries.lock().unwrap();
        if entries.len() >= bounds.max_entries && !entries.contains_key(&key) {
            return Err(StateError::Full { key, max: bounds.max_entries });
        }
        entries.insert(key, value);
        Ok(())
    }

    /// The value stored under `key`, if any.
    pub fn load(&self, key: &str) -> Option<String> {
        self.entries.lock().unwrap().get(key).cloned()
    }

    /// How many keys are stored.
    pub fn len(&self) -> usize {
        self.entries.lock().unwrap().len()
    }

    /// Whether nothing is stored.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> StateStore {
        StateStore::new(StateBounds { max_entries: 2, max_key_bytes: 4, max_value_bytes: 8 })
    }

    #[test]
    fn stores_and_loads_and_clones_share() {
        let store = small();
        store.store("a".into(), "1".into()).unwrap();
        let clone = store.clone();
        clone.store("a".into(), "2".into()).unwrap();
        assert_eq!(store.load("a").as_deref(), Some("2"));
        assert_eq!(store.load("b"), None);
    }

    #[test]
    fn every_bound_is_an_error_not_a_drop() {
        let store = small();
        assert_eq!(store.store("toolong".into(), "v".into()), Err(StateError::KeyTooLong { len: 7, max: 4 }));
        assert!(matches!(store.store("k".into(), "123456789".into()), Err(StateError::ValueTooLong { len: 9, .. })));
        store.store("a".into(), "1".into()).unwrap();
        store.store("b".into(), "1".into()).unwrap();
        assert_eq!(store.store("c".into(), "1".into()), Err(StateError::Full { key: "c".into(), max: 2 }));
        // Overwriting an existing key is allowed at the bound.
        store.store("a".into(), "2".into()).unwrap();
        assert_eq!(store.len(), 2);
        assert_eq!(store.load("c"), None);
    }
}
