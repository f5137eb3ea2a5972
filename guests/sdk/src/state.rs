//! String values the host keeps for this endpoint across calls
//! (`host-store`/`host-load`); two routes using the same guest have separate stores.

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

/// Stores `value` serialized as JSON under `key`.
pub fn store_json<T: Serialize + ?Sized>(key: &str, value: &T) -> Result<(), Error> {
    store(key, &serde_json::to_string(value)?)
}

/// Loads the JSON value stored under `key` and deserializes it into `T`.
pub fn load_json<T: DeserializeOwned>(key: &str) -> Result<Option<T>, Error> {
    load(key)?
        .map(|text| serde_json::from_str(&text))
        .transpose()
        .map_err(Error::from)
}
