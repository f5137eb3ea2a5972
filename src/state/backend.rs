//! Where state lives ([`StateBackend`]) and the runtime's registry that hands
//! each endpoint its store, sharing one Redis server's few connections per URL.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::redis::{RedisConnection, redact};
use super::{MemoryStore, RedisStore, SharedState, StateScope};
use crate::Limits;

/// Where `host-store` state lives: `memory` (this process) or a Redis URL.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum StateBackend {
    /// In this process: the embedded default.
    #[default]
    Memory,
    /// In Redis at this URL (`redis://[user:password@]host:port/db`), shared by every process using it.
    Redis(String),
}

impl StateBackend {
    /// The backend as text, any password hidden (for messages and logs).
    pub fn shown(&self) -> String {
        match self {
            StateBackend::Memory => "memory".into(),
            StateBackend::Redis(url) => redact(url),
        }
    }
}

impl std::str::FromStr for StateBackend {
    type Err = String;

    /// `memory`, or a `redis://` URL the `redis` crate accepts (checked here, not connected).
    fn from_str(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if text == "memory" {
            return Ok(StateBackend::Memory);
        }
        if !(text.starts_with("redis://") || text.starts_with("rediss://") || text.starts_with("redis+unix://")) {
            return Err("expected 'memory' or a redis://host:port/db URL".into());
        }
        redis::Client::open(text).map_err(|e| format!("not a usable Redis URL: {e}"))?;
        Ok(StateBackend::Redis(text.to_string()))
    }
}

impl std::fmt::Display for StateBackend {
    /// The backend as text, any password hidden.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.shown())
    }
}

impl Serialize for StateBackend {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            StateBackend::Memory => s.serialize_str("memory"),
            StateBackend::Redis(url) => s.serialize_str(url),
        }
    }
}

impl<'de> Deserialize<'de> for StateBackend {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?.parse().map_err(serde::de::Error::custom)
    }
}

/// The runtime's state registry: the default backend, one Redis server (a few
/// connections) per URL, and the in-memory stores endpoints share through `state-namespace`.
#[derive(Debug, Default)]
pub(crate) struct StateStores {
    default: StateBackend,
    redis: Mutex<HashMap<String, Arc<RedisConnection>>>,
    named: Mutex<HashMap<String, Weak<MemoryStore>>>,
}

impl StateStores {
    /// A registry whose endpoints keep state in `default` unless their `state` knob says otherwise.
    pub(crate) fn new(default: StateBackend) -> Self {
        Self { default, ..Self::default() }
    }

    /// The runtime's default backend.
    pub(crate) fn default_backend(&self) -> &StateBackend {
        &self.default
    }

    /// The state of an endpoint on plugin `path` with `limits`. Nothing connects
    /// here: a Redis connection is made on first use and remade after failures.
    pub(crate) fn store_for(&self, path: &str, limits: &Limits) -> SharedState {
        let scope = StateScope::of(path, limits);
        match limits.state.as_ref().unwrap_or(&self.default) {
            StateBackend::Memory if scope.named => {
                let mut named = self.named.lock().unwrap_or_else(|e| e.into_inner());
                named.retain(|_, store| store.strong_count() > 0);
                if let Some(store) = named.get(&scope.endpoint).and_then(Weak::upgrade) {
                    return store;
                }
                let store = Arc::new(MemoryStore::new(scope.endpoint.clone(), scope.bounds, scope.ttl));
                named.insert(scope.endpoint, Arc::downgrade(&store));
                store
            }
            StateBackend::Memory => Arc::new(MemoryStore::new(scope.endpoint, scope.bounds, scope.ttl)),
            StateBackend::Redis(url) => {
                let connection = {
                    let mut redis = self.redis.lock().unwrap_or_else(|e| e.into_inner());
                    redis.entry(url.clone()).or_insert_with(|| Arc::new(RedisConnection::new(url))).clone()
                };
                Arc::new(RedisStore::with_connection(connection, scope))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_memory_and_redis_urls_and_hides_passwords() {
        assert_eq!("memory".parse::<StateBackend>().unwrap(), StateBackend::Memory);
        let redis: StateBackend = "redis://127.0.0.1:6379/0".parse().unwrap();
        assert_eq!(redis, StateBackend::Redis("redis://127.0.0.1:6379/0".into()));
        let secret: StateBackend = "redis://app:s3cret@10.0.0.1:6379/2".parse().unwrap();
        assert_eq!(secret.to_string(), "redis://app:***@10.0.0.1:6379/2");
        assert_eq!(redact("redis://:pw@h:1/0"), "redis://:***@h:1/0");
        assert_eq!(redact("redis://user@h:1/0"), "redis://user@h:1/0");
        assert!("postgres://x".parse::<StateBackend>().unwrap_err().contains("redis://"));
        assert!("redis://127.0.0.1:notaport/0".parse::<StateBackend>().is_err());
    }

    #[test]
    fn named_memory_stores_are_shared_and_unnamed_ones_are_not() {
        let stores = StateStores::default();
        let mut limits = Limits::default();
        let a = stores.store_for("p.wasm", &limits);
        let b = stores.store_for("p.wasm", &limits);
        assert!(!Arc::ptr_eq(&a, &b), "two endpoints on one plugin keep separate state by default");
        limits.state_namespace = Some("orders".into());
        let c = stores.store_for("p.wasm", &limits);
        let d = stores.store_for("p.wasm", &limits);
        assert!(Arc::ptr_eq(&c, &d), "the same state-namespace shares");
        assert_eq!(c.endpoint(), "p.wasm#orders");
        let other = stores.store_for("q.wasm", &limits);
        assert!(!Arc::ptr_eq(&c, &other), "a namespace is per plugin path");
    }
}
