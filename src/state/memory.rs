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
        self.put(&mut self.entries(), key, value.to_string())
    }

    /// Adds `delta` to the integer under `key` (absent or expired: 0) under one lock.
    pub fn increment_now(&self, key: &str, delta: i64) -> Result<i64, StateError> {
        self.bounds.check(key, "")?;
        let mut entries = self.entries();
        let now = Instant::now();
        let current = entries.get(key).filter(|(_, expires)| expires.is_none_or(|at| at > now));
        let not_integer = |reason: String| StateError::NotAnInteger { key: key.to_string(), reason };
        let base = match current {
            Some((text, _)) => text.parse::<i64>().map_err(|_| not_integer("is not an integer".into()))?,
            None => 0,
        };
        let next = base.checked_add(delta).ok_or_else(|| not_integer(format!("{base} plus {delta} overflows")))?;
        let text = next.to_string();
        self.bounds.check(key, &text)?;
        self.put(&mut entries, key, text)?;
        Ok(next)
    }

    /// Writes `value` under `key`, within the entry bound (expired keys make room).
    fn put(&self, entries: &mut HashMap<String, (String, Option<Instant>)>, key: &str, value: String) -> Result<(), StateError> {
        let now = Instant::now();
        let expires = self.ttl.and_then(|ttl| now.checked_add(ttl));
        if let Some(slot) = entries.get_mut(key) {
            *slot = (value, expires);
            return Ok(());
        }
        if entries.len() >= self.bounds.max_entries {
            entries.retain(|_, (_, expires)| expires.is_none_or(|at| at > now));
            if entries.len() >= self.bounds.max_entries {
                return Err(StateError::Full { key: key.to_string(), max: self.bounds.max_entries });
            }
        }
        entries.insert(key.to_string(), (value, expires));
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

    async fn increment(&self, key: &str, delta: i64, _deadline: Instant) -> Result<i64, StateError> {
        self.increment_now(key, delta)
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
    fn increments_count_from_zero_and_refuse_what_is_not_an_integer() {
        let store = small(None);
        assert_eq!(store.increment_now("n", 5), Ok(5));
        assert_eq!(store.increment_now("n", -7), Ok(-2));
        store.store_now("t", "abc").unwrap();
        assert!(
            matches!(store.increment_now("t", 1), Err(StateError::NotAnInteger { reason, .. }) if reason == "is not an integer")
        );
        assert_eq!(store.increment_now("x", 1), Err(StateError::Full { key: "x".into(), max: 2 }));
        store.store_now("n", &i64::MAX.to_string()[..8]).unwrap();
        let big = MemoryStore::new("t.wasm", StateBounds { max_entries: 2, max_key_bytes: 4, max_value_bytes: 32 }, None);
        big.increment_now("n", i64::MAX).unwrap();
        assert!(
            matches!(big.increment_now("n", 1), Err(StateError::NotAnInteger { reason, .. }) if reason.contains("overflows"))
        );
        assert_eq!(big.load_now("n"), Some(i64::MAX.to_string()), "a failed increment changes nothing");
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
