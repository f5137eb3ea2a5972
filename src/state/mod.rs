//! `host-store` / `host-load` state: per-endpoint string values behind the
//! [`StateStore`] trait, kept in memory ([`MemoryStore`], the default) or in
//! Redis ([`RedisStore`], shared by every host process and surviving restarts).
//!
//! [`StateBackend`] names where (`memory`, `redis://host:port/db`): per
//! runtime ([`RuntimeBuilder::state`](crate::RuntimeBuilder::state)), overridden per
//! endpoint by the `state` knob. Both stores enforce the same [`StateBounds`].

mod backend;
mod memory;
mod redis;

use std::time::{Duration, Instant};

use crate::knobs;

pub use backend::StateBackend;
pub(crate) use backend::StateStores;
pub use memory::MemoryStore;
pub use redis::RedisStore;

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
    /// The `state-max-*` defaults of the knob table.
    fn default() -> Self {
        Self {
            max_entries: const { knobs::default_number("state-max-entries") } as usize,
            max_key_bytes: const { knobs::default_number("state-max-key-bytes") } as usize,
            max_value_bytes: const { knobs::default_number("state-max-value-bytes") } as usize,
        }
    }
}

impl StateBounds {
    /// Checks a write's key and value lengths (the entry count is the store's to check).
    pub fn check(&self, key: &str, value: &str) -> Result<(), StateError> {
        if key.len() > self.max_key_bytes {
            return Err(StateError::KeyTooLong { len: key.len(), max: self.max_key_bytes });
        }
        if value.len() > self.max_value_bytes {
            return Err(StateError::ValueTooLong { key: key.to_string(), len: value.len(), max: self.max_value_bytes });
        }
        Ok(())
    }
}

/// Why a `host-store` or `host-load` failed.
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
    /// The value is longer than the bound: one being stored, or one found in the store.
    #[error("state: value of {len} bytes for key '{key}' exceeds the {max}-byte bound (state-max-value-bytes)")]
    ValueTooLong {
        /// The key written or read.
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
    /// `increment` found a value that is not an integer, or the sum overflows.
    #[error("increment: the value under '{key}' {reason}")]
    NotAnInteger {
        /// The key incremented.
        key: String,
        /// What is wrong: not an integer, or the sum overflows.
        reason: String,
    },
    /// The store could not be reached or refused the operation.
    #[error("state store {store} unavailable for endpoint '{endpoint}': {reason}")]
    Unavailable {
        /// Where the store is (a Redis URL, password hidden).
        store: String,
        /// The endpoint whose state it is.
        endpoint: String,
        /// What went wrong.
        reason: String,
    },
    /// The store did not answer within the call's deadline (or its own timeout).
    #[error("state store {store} did not answer within {after:?} for endpoint '{endpoint}'")]
    Timeout {
        /// Where the store is (a Redis URL, password hidden).
        store: String,
        /// The endpoint whose state it is.
        endpoint: String,
        /// How long it was given.
        after: Duration,
    },
}

impl StateError {
    /// Whether the store itself failed (`wasm-error::io` to the guest), rather than a bound refusing the write.
    pub fn is_io(&self) -> bool {
        matches!(self, StateError::Unavailable { .. } | StateError::Timeout { .. })
    }
}

/// One endpoint's `host-store` state: shared by all its instances, cheap to share as [`SharedState`].
///
/// `host-store` and `host-load` stay synchronous to the guest; the host side
/// is async, and every operation ends by `deadline` (the call's). A
/// read-modify-write by a guest (load, then store) is **not atomic**: two
/// calls in flight at once may both read the same value.
#[async_trait::async_trait]
pub trait StateStore: Send + Sync + std::fmt::Debug + 'static {
    /// Stores `value` under `key`, or says which bound it hits or why the store failed.
    async fn store(&self, key: &str, value: &str, deadline: Instant) -> Result<(), StateError>;

    /// The value stored under `key`, if any.
    async fn load(&self, key: &str, deadline: Instant) -> Result<Option<String>, StateError>;

    /// Adds `delta` to the integer under `key` (absent: 0) in one atomic step; returns the new value.
    async fn increment(&self, key: &str, delta: i64, deadline: Instant) -> Result<i64, StateError>;

    /// How many keys the endpoint holds now (expired ones not counted).
    async fn len(&self, deadline: Instant) -> Result<usize, StateError>;

    /// Where the state lives, for messages: `memory` or the Redis URL (password hidden).
    fn location(&self) -> &str;

    /// The endpoint this state belongs to: the plugin path, and `#namespace` when one is set.
    fn endpoint(&self) -> &str;

    /// [`load`](Self::load), given [`OUTSIDE_CALL`] (5 s) (for tools and tests).
    async fn get(&self, key: &str) -> Result<Option<String>, StateError> {
        self.load(key, Instant::now() + OUTSIDE_CALL).await
    }

    /// [`len`](Self::len), given [`OUTSIDE_CALL`] (5 s).
    async fn key_count(&self) -> Result<usize, StateError> {
        self.len(Instant::now() + OUTSIDE_CALL).await
    }
}

/// How long [`StateStore::get`] and [`StateStore::key_count`] wait, outside any call's deadline.
pub const OUTSIDE_CALL: Duration = Duration::from_secs(5);

/// A handle on an endpoint's state, shared by its instances.
pub type SharedState = std::sync::Arc<dyn StateStore>;

/// The identity and knobs of one endpoint's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StateScope {
    /// `path` or `path#namespace`.
    pub(crate) endpoint: String,
    /// Whether `state-namespace` was set (memory stores are then shared by that name).
    pub(crate) named: bool,
    pub(crate) bounds: StateBounds,
    /// How long a stored key lives (`state-ttl`); none keeps it.
    pub(crate) ttl: Option<Duration>,
}

impl StateScope {
    /// The scope of an endpoint on plugin `path` with `limits`.
    pub(crate) fn of(path: &str, limits: &crate::Limits) -> Self {
        let endpoint = match &limits.state_namespace {
            Some(namespace) => format!("{path}#{namespace}"),
            None => path.to_string(),
        };
        Self { endpoint, named: limits.state_namespace.is_some(), bounds: limits.state_bounds(), ttl: limits.state_ttl }
    }
}

/// Time left until `deadline`, at least a millisecond.
pub(crate) fn remaining(deadline: Instant) -> Duration {
    deadline.saturating_duration_since(Instant::now()).max(Duration::from_millis(1))
}
