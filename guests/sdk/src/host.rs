//! Functions the host gives every guest: endpoint calls and the properties of
//! the exchange being processed. Per-endpoint state is in [`crate::state`].

use crate::Error;
use crate::bindings::host as wit;
use std::time::Duration;

/// Sends `payload` as a text body to the endpoint `uri` and returns the reply body.
///
/// A host error comes back unchanged (e.g. calling another WASM endpoint fails
/// with `recursive wasm calls not supported`).
pub async fn call(uri: impl Into<String>, payload: impl Into<String>) -> Result<String, Error> {
    Ok(wit::camel_call(uri.into(), payload.into()).await?)
}

/// Receives one message from the endpoint `uri`, waiting at most `timeout`
/// (whole milliseconds, capped at `u32::MAX`).
pub async fn poll(uri: impl Into<String>, timeout: Duration) -> Result<String, Error> {
    let timeout_ms = u32::try_from(timeout.as_millis()).unwrap_or(u32::MAX);
    Ok(wit::camel_poll(uri.into(), timeout_ms).await?)
}

/// Reads a property of the exchange being processed, from the host.
///
/// Unlike [`crate::Exchange::property_str`] this sees what was set on the host
/// during this call, including by [`set_property`].
pub fn property(key: &str) -> Option<String> {
    wit::get_property(key)
}

/// Sets a property of the exchange being processed, on the host.
pub fn set_property(key: &str, value: &str) {
    wit::set_property(key, value);
}

/// Lets the host and other tasks of this component run before going on (the
/// component-model `yield`), e.g. between the chunks a stream producer writes.
pub async fn yield_now() {
    wit_bindgen::yield_async().await;
}
