//! String values the host keeps for this endpoint across calls
//! (`host-store`/`host-load`); two routes using the same guest have separate stores
//! (unless the host shares them, for example in Redis).
//!
//! `load` then `store` is not atomic: two calls in flight may read the same
//! value. For counters, [`increment`] is atomic (camel-wasm hosts only).

use crate::Error;
use crate::bindings::host as wit;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Stores `value` under `key`.
pub fn store(key: &str, value: &str) -> Result<(), Error> {
    Ok(wit::host_store(key, value)?)
}

/// Loads the value stored under `key`, if any.
pub fn load(key: &str) -> Result<Option<String>, Error> {
    Ok(wit::host_load(key)?)
}

/// Adds `delta` to the integer under `key` (absent counts as 0) in one atomic
/// step and returns the new value: no update is lost, however many calls (or
/// hosts sharing a store) increment at once.
///
/// Uses `camel:state/counters@1.0.0`, which camel-wasm hosts provide: a guest
/// that calls it does not load on hosts without it (rust-camel's component).
/// A guest that never calls it does not import it.
pub fn increment(key: &str, delta: i64) -> Result<i64, Error> {
    crate::bindings::counters::increment(key, delta).map_err(Error::processor)
}

/// Stores `value` serialized as JSON under `key`.
pub fn store_json<T: Serialize + ?Sized>(key: &str, value: &T) -> Result<(), Error> {
    store(key, &serde_json::to_string(value)?)
}

/// Loads the JSON value stored under `key` and deserializes it into `T`.
pub fn load_json<T: DeserializeOwned>(key: &str) -> Result<Option<T>, Error> {
    load(key)?.map(|text| serde_json::from_str(&text)).transpose().map_err(Error::from)
}
