//! What an operator sets for a source: where it listens, and the edge limits of each request.

use std::net::SocketAddr;
use std::time::Duration;

use crate::limits::{ConfigError, EndpointUri, Limits};

/// The source parameters of a `wasm:` URI (the rest are [`Limits`]).
pub const SOURCE_PARAMETERS: &[&str] = &["bind", "path", "allow-public-bind", "max-body-bytes", "request-timeout"];

/// Where a source listens and how each HTTP request is bounded.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceOptions {
    /// The address to bind (`bind`); it must agree with the guest's plan. `None`: the plan's.
    pub bind: Option<SocketAddr>,
    /// The only request path served (`path`); it must agree with the plan. `None`: the plan's, or every path.
    pub path: Option<String>,
    /// Whether a non-loopback bind is allowed (`allow-public-bind=true`).
    pub allow_public_bind: bool,
    /// Largest request body (`max-body-bytes`); larger gets 413. `None`: the endpoint's `max-stream-bytes`.
    pub max_body_bytes: Option<u64>,
    /// Longest a request may wait for its response (`request-timeout`, seconds); then 504.
    pub request_timeout: Duration,
}

impl Default for SourceOptions {
    fn default() -> Self {
        Self { bind: None, path: None, allow_public_bind: false, max_body_bytes: None, request_timeout: Duration::from_secs(30) }
    }
}

impl SourceOptions {
    /// Sets the source parameter `name` from its text form; `Ok(false)` when it is not one.
    pub fn set(&mut self, name: &str, value: &str) -> Result<bool, ConfigError> {
        let invalid = |reason: &str| ConfigError::InvalidValue {
            name: name.to_string(),
            value: value.to_string(),
            reason: reason.to_string(),
        };
        match name {
            "bind" => self.bind = Some(value.parse().map_err(|_| invalid("expected a socket address such as 127.0.0.1:8080"))?),
            "path" if value.starts_with('/') => self.path = Some(value.to_string()),
            "path" => return Err(invalid("must start with '/'")),
            "allow-public-bind" => {
                self.allow_public_bind = value.parse().map_err(|_| invalid("expected true or false"))?;
            }
            "max-body-bytes" => match value.trim().parse::<u64>() {
                Ok(n) if n > 0 => self.max_body_bytes = Some(n),
                _ => return Err(invalid("expected a positive whole number")),
            },
            "request-timeout" => {
                let mut probe = Limits::default();
                probe.set("timeout", value).map_err(|_| invalid("expected seconds greater than zero"))?;
                self.request_timeout = probe.timeout;
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// Splits a source's `wasm:` URI: its source parameters, and the endpoint URI of the rest over `base`.
    pub fn parse_uri(uri: &str, base: Limits) -> Result<(EndpointUri, Self), ConfigError> {
        let mut options = Self::default();
        let (path, query) = uri.split_once('?').unwrap_or((uri, ""));
        let mut rest = Vec::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            if !options.set(name, value)? {
                rest.push(pair);
            }
        }
        let remaining = if rest.is_empty() { path.to_string() } else { format!("{path}?{}", rest.join("&")) };
        Ok((EndpointUri::parse_over(&remaining, base)?, options))
    }

    /// The `configure` pairs these options give the guest: `bind` and `path` when set.
    pub(crate) fn config_pairs(&self) -> Vec<(String, String)> {
        let mut pairs = Vec::new();
        if let Some(bind) = self.bind {
            pairs.push(("bind".to_string(), bind.to_string()));
        }
        if let Some(path) = &self.path {
            pairs.push(("path".to_string(), path.clone()));
        }
        pairs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_uri_splits_into_source_parameters_and_limits() {
        let (uri, options) =
            SourceOptions::parse_uri("wasm:hook.wasm?bind=127.0.0.1:9000&timeout=5&path=/hook&request-timeout=2", Limits::default())
                .unwrap();
        assert_eq!(uri.path, "hook.wasm");
        assert_eq!(uri.limits.timeout, Duration::from_secs(5));
        assert_eq!(options.bind, Some("127.0.0.1:9000".parse().unwrap()));
        assert_eq!(options.path.as_deref(), Some("/hook"));
        assert_eq!(options.request_timeout, Duration::from_secs(2));
        let err = SourceOptions::parse_uri("wasm:h.wasm?bind=nowhere", Limits::default()).unwrap_err();
        assert!(err.to_string().contains("'bind'"), "{err}");
        assert!(SourceOptions::parse_uri("wasm:h.wasm?path=hook", Limits::default()).is_err());
        assert!(SourceOptions::parse_uri("wasm:h.wasm?fuel=1", Limits::default()).is_err());
    }
}
