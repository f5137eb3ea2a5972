//! The in-memory [`StateStore`]: the embedded default, one map per endpoint (or per `state-namespace`).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::{StateBounds, StateError, StateStore};

/// State kept in this process: fast, lost on restart, not shared with other processes.
#[derive(Debug)]
pub struct MemoryStore {
    endpoint: String,
    bounds: StateBounds,
    ttl: Option<Duration>,
    /// Each value with the instant it expires, if it does.
    entries: Mutex<HashMap<String, (String, Option<Instant>)>>,
}

impl MemoryStore {
    /// An empty store for `endpoint` with `bounds`, keeping keys for `ttl` (none: until the process ends).
    pub fn new(endpoint: impl Into<String>, bounds: StateBounds, ttl: Option<Duration>) -> Self {
        Self { endpoint: endpoint.into(), bounds, ttl, entries: Mutex::default() }
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<String, (String, Option<Instant>)>> {
        // A panic while holding the lock cannot leave the map half-written: recover it.
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Stores without waiting (the in-memory store never waits).
    pub fn store_now(&self, key: &str, value: &str) -> Result<(), StateError> {
        self.bounds.check(key, value)?;
        let now = Instant::now();
        let expires = self.ttl.and_then(|ttl| now.checked_add(ttl));
        let mut entries = self.entries();
        if let Some(slot) = entries.get_mut(key) {
            *slot = (value.to_string(), expires);
            return Ok(());
        }
        if entries.len() >= self.bounds.max_entries {
            entries.retain(|_, (_, expires)| expires.is_none_or(|at| at > now));
            if entries.len() >= self.bounds.max_entries {
                return Err(StateError::Full { key: key.to_string(), max: self.bounds.max_entries });
            }
        }
        entries.insert(key.to_string(), (value.to_string(), expires));
        Ok(())
    }

    /// Loads without waiting.
    pub fn load_now(&self, key: &str) -> Option<String> {
        let entries = self.entries();
        let (value, expires) = entries.get(key)?;
        expires.is_none_or(|at| at > Instant::now()).then(|| value.clone())
    }

    /// Keys held now, expired ones not counted.
    pub fn len_now(&self) -> usize {
        let now = Instant::now();
        self.entries().values().filter(|(_, expires)| expires.is_none_or(|at| at > now)).count()
    }
}

#[async_trait::async_trait]
impl StateStore for MemoryStore {
    async fn store(&self, key: &str, value: &str, _deadline: Instant) -> Result<(), StateError> {
        self.store_now(key, value)
    }

    async fn load(&self, key: &str, _deadline: Instant) -> Result<Option<String>, StateError> {
        Ok(self.load_now(key))
    }

    async fn len(&self, _deadline: Instant) -> Result<usize, StateError> {
        Ok(self.len_now())
    }

    fn location(&self) -> &str {
        "memory"
    }

    fn endpoint(&self) -> &str {
        &self.endpoint
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small(ttl: Option<Duration>) -> MemoryStore {
        MemoryStore::new("t.wasm", StateBounds { max_entries: 2, max_key_bytes: 4, max_value_bytes: 8 }, ttl)
    }

    #[test]
    fn stores_and_loads() {
        let store = small(None);
        store.store_now("a", "1").unwrap();
        store.store_now("a", "2").unwrap();
        assert_eq!(store.load_now("a").as_deref(), Some("2"));
        assert_eq!(store.load_now("b"), None);
    }

    #[test]
    fn every_bound_is_an_error_not_a_drop() {
        let store = small(None);
        assert_eq!(store.store_now("toolong", "v"), Err(StateError::KeyTooLong { len: 7, max: 4 }));
        assert!(matches!(store.store_now("k", "123456789"), Err(StateError::ValueTooLong { len: 9, .. })));
        store.store_now("a", "1").unwrap();
        store.store_now("b", "1").unwrap();
        assert_eq!(store.store_now("c", "1"), Err(StateError::Full { key: "c".into(), max: 2 }));
        // Overwriting an existing key is allowed at the bound.
        store.store_now("a", "2").unwrap();
        assert_eq!(store.len_now(), 2);
        assert_eq!(store.load_now("c"), None);
    }

    #[test]
    fn expired_keys_are_gone_and_free_their_slot() {
        let store = small(Some(Duration::from_millis(20)));
        store.store_now("a", "1").unwrap();
        store.store_now("b", "1").unwrap();
        assert_eq!(store.load_now("a").as_deref(), Some("1"));
        std::thread::sleep(Duration::from_millis(40));
        assert_eq!(store.load_now("a"), None);
        assert_eq!(store.len_now(), 0);
        store.store_now("c", "1").unwrap();
        assert_eq!(store.load_now("c").as_deref(), Some("1"));
    }
}
