//! What an operator sets for a source: where it listens, who may call it, and
//! the bounds of each connection and request. Every parameter is written once,
//! in [`SOURCE_PARAMETERS`]: its name, help and default text.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::limits::{ConfigError, EndpointUri, Limits, seconds};

/// The kind of value a source parameter takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParameterKind {
    /// Text (an address, a path, a URL, a list).
    Text,
    /// `true` or `false`.
    Bool,
    /// A positive whole number.
    Int,
    /// Seconds, fractions allowed.
    Seconds,
}

/// One source parameter of a `wasm:` URI (the rest are [`Limits`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SourceParameter {
    /// Its name in a URI, in Camel.toml and after `serve --source`.
    pub name: &'static str,
    /// One line of help.
    pub help: &'static str,
    /// Its value's kind.
    pub kind: ParameterKind,
    /// Its default, as text; `None`: unset.
    pub default: Option<&'static str>,
}

const fn param(name: &'static str, kind: ParameterKind, default: Option<&'static str>, help: &'static str) -> SourceParameter {
    SourceParameter { name, help, kind, default }
}

use ParameterKind::{Bool, Int, Seconds, Text};

/// The prefix of a parameter handed to the guest's `configure`: `config.secret=...` gives it `secret`.
pub const CONFIG_PREFIX: &str = "config.";

/// Every source parameter, with its help and default: the one list the URI, the CLI, rust-camel and Camel.toml use.
pub const SOURCE_PARAMETERS: &[SourceParameter] = &[
    param("bind", Text, None, "the address the listener binds; must agree with the guest's plan"),
    param("path", Text, None, "the only request path served; must agree with the guest's plan"),
    param("allow-public-bind", Bool, Some("false"), "allow a non-loopback bind"),
    param("max-body-bytes", Int, None, "largest request body, in bytes (default max-stream-bytes); larger gets 413"),
    param("request-timeout", Seconds, Some("30"), "seconds a request may wait for its response; then 504"),
    param(
        "header-read-timeout",
        Seconds,
        Some("10"),
        "seconds a client has to send a request's whole head; then the connection closes",
    ),
    param("keep-alive-timeout", Seconds, Some("5"), "seconds an idle keep-alive connection stays open"),
    param("body-timeout", Seconds, Some("30"), "seconds a client has to send a request's whole body; then 408"),
    param(
        "max-connections",
        Int,
        Some("512"),
        "most open connections; past it the oldest idle one is closed, or the new one refused with 503",
    ),
    param("max-header-bytes", Int, Some("65536"), "largest request head (request line and headers); larger gets 431"),
    param("tls-cert", Text, None, "PEM file of the certificate chain: the listener speaks HTTPS (with tls-key)"),
    param("tls-key", Text, None, "PEM file of the certificate's private key"),
    param("auth", Text, None, "who may call: jwt, introspection, or none (anyone: explicitly unauthenticated); required"),
    param("auth-jwks", Text, None, "auth=jwt: the JWKS (RS256 keys) as an http(s) URL or a file"),
    param("auth-issuer", Text, None, "auth=jwt: the issuer tokens must carry"),
    param("auth-audience", Text, None, "auth=jwt: the audiences accepted, comma-separated"),
    param(
        "auth-token",
        Text,
        Some("bearer"),
        "where the token is: bearer, header:NAME, query:NAME, cookie:NAME; comma-separated, tried in order",
    ),
    param(
        "auth-cache-ttl",
        Seconds,
        Some("30"),
        "seconds an authenticated token is remembered (never past its exp); 0: check every request",
    ),
    param(
        "auth-allow-internal",
        Bool,
        Some("false"),
        "allow a JWKS or introspection URL on a loopback or private address (and plain http)",
    ),
    param("auth-introspection-url", Text, None, "auth=introspection: the RFC 7662 endpoint"),
    param("auth-client-id", Text, None, "auth=introspection: the client id the host introspects as"),
    param("auth-client-secret-env", Text, None, "auth=introspection: the environment variable holding the client secret"),
];

/// How a source's callers are authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMode {
    /// Nobody is: anyone who reaches the listener may call (`auth=none`, explicit).
    None,
    /// A JWT checked against a JWKS, an issuer and audiences (`auth=jwt`).
    Jwt,
    /// An opaque token checked by OAuth2 token introspection (`auth=introspection`).
    Introspection,
}

/// Where a caller's token is taken from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenSource {
    /// `Authorization: Bearer TOKEN` (`bearer`).
    Bearer,
    /// The whole value of a header (`header:NAME`).
    Header(String),
    /// A query parameter (`query:NAME`).
    Query(String),
    /// A cookie (`cookie:NAME`).
    Cookie(String),
}

/// Authentication at the edge: the `auth*` parameters.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AuthOptions {
    /// `auth`; `None`: not set, and the source refuses to start.
    pub mode: Option<AuthMode>,
    /// `auth-jwks`.
    pub jwks: Option<String>,
    /// `auth-issuer`.
    pub issuer: Option<String>,
    /// `auth-audience`.
    pub audience: Vec<String>,
    /// `auth-token`.
    pub token: Vec<TokenSource>,
    /// `auth-cache-ttl`: how long a token that authenticated is remembered; `None`: never.
    pub cache_ttl: Option<Duration>,
    /// `auth-allow-internal`.
    pub allow_internal: bool,
    /// `auth-introspection-url`.
    pub introspection_url: Option<String>,
    /// `auth-client-id`.
    pub client_id: Option<String>,
    /// `auth-client-secret-env`.
    pub client_secret_env: Option<String>,
    /// A route's own authentication (its plan and providers), set by the rust-camel consumer.
    #[cfg(feature = "auth")]
    pub kernel: Option<KernelAuth>,
}

/// Where a source listens, who may call it, and how each connection and request is bounded.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceOptions {
    /// The address to bind (`bind`); it must agree with the guest's plan. `None`: the plan's.
    pub bind: Option<SocketAddr>,
    /// The only request path served (`path`); it must agree with the plan. `None`: the plan's, or every path.
    pub path: Option<String>,
    /// Whether a non-loopback address is allowed (`allow-public-bind=true`).
    pub allow_public_bind: bool,
    /// Largest request body (`max-body-bytes`); larger gets 413. `None`: the endpoint's `max-stream-bytes`.
    pub max_body_bytes: Option<u64>,
    /// Longest a request may wait for its response (`request-timeout`); then 504.
    pub request_timeout: Duration,
    /// Longest a client may take to send a request's head (`header-read-timeout`).
    pub header_read_timeout: Duration,
    /// Longest a keep-alive connection stays open with no request (`keep-alive-timeout`).
    pub keep_alive_timeout: Duration,
    /// Longest a client may take to send a request's body (`body-timeout`); then 408.
    pub body_timeout: Duration,
    /// Most connections open at once (`max-connections`).
    pub max_connections: usize,
    /// Largest request head in bytes (`max-header-bytes`); larger gets 431.
    pub max_header_bytes: usize,
    /// The certificate chain (`tls-cert`): with `tls_key`, the listener speaks HTTPS.
    pub tls_cert: Option<PathBuf>,
    /// The private key (`tls-key`).
    pub tls_key: Option<PathBuf>,
    /// Who may call (`auth*`).
    pub auth: AuthOptions,
    /// The guest's own configuration (`config.KEY=VALUE`), handed to its
    /// `configure` after `bind` and `path`, in the URI's order.
    pub config: Vec<(String, String)>,
}

impl Default for SourceOptions {
    fn default() -> Self {
        let mut options = Self {
            bind: None,
            path: None,
            allow_public_bind: false,
            max_body_bytes: None,
            request_timeout: Duration::ZERO,
            header_read_timeout: Duration::ZERO,
            keep_alive_timeout: Duration::ZERO,
            body_timeout: Duration::ZERO,
            max_connections: 0,
            max_header_bytes: 0,
            tls_cert: None,
            tls_key: None,
            auth: AuthOptions::default(),
            config: Vec::new(),
        };
        for parameter in SOURCE_PARAMETERS {
            if let Some(default) = parameter.default {
                options.set(parameter.name, default).expect("every default in SOURCE_PARAMETERS parses");
            }
        }
        options
    }
}

/// The smallest `max-header-bytes` (hyper reads at least this much at once).
pub const MIN_HEADER_BYTES: usize = 8192;

impl SourceOptions {
    /// Whether `name` is a source parameter.
    pub fn is_parameter(name: &str) -> bool {
        name.starts_with(CONFIG_PREFIX) || SOURCE_PARAMETERS.iter().any(|p| p.name == name)
    }

    /// Options for a loopback development listener on `bind`, open to anyone (`auth=none`).
    pub fn public(bind: SocketAddr) -> Self {
        let mut options = Self { bind: Some(bind), ..Self::default() };
        options.auth.mode = Some(AuthMode::None);
        options
    }

    /// Sets the source parameter `name` from its text form; `Ok(false)` when it is not one.
    pub fn set(&mut self, name: &str, value: &str) -> Result<bool, ConfigError> {
        let invalid = |reason: &str| ConfigError::InvalidValue {
            name: name.to_string(),
            value: value.to_string(),
            reason: reason.to_string(),
        };
        let secs = |v: &str| seconds(v).map_err(&invalid);
        let boolean = |v: &str| v.parse::<bool>().map_err(|_| invalid("expected true or false"));
        let positive = |v: &str| match v.trim().parse::<u64>() {
            Ok(n) if n > 0 => Ok(n),
            _ => Err(invalid("expected a positive whole number")),
        };
        let text = |v: &str| if v.is_empty() { Err(invalid("must not be empty")) } else { Ok(v.to_string()) };
        match name {
            "bind" => self.bind = Some(value.parse().map_err(|_| invalid("expected a socket address such as 127.0.0.1:8080"))?),
            "path" if value.starts_with('/') => self.path = Some(value.to_string()),
            key if key.len() > CONFIG_PREFIX.len() && key.starts_with(CONFIG_PREFIX) => {
                self.config.push((key[CONFIG_PREFIX.len()..].to_string(), value.to_string()));
            }
            "path" => return Err(invalid("must start with '/'")),
            "allow-public-bind" => self.allow_public_bind = boolean(value)?,
            "max-body-bytes" => self.max_body_bytes = Some(positive(value)?),
            "request-timeout" => self.request_timeout = secs(value)?,
            "header-read-timeout" => self.header_read_timeout = secs(value)?,
            "keep-alive-timeout" => self.keep_alive_timeout = secs(value)?,
            "body-timeout" => self.body_timeout = secs(value)?,
            "max-connections" => {
                self.max_connections = usize::try_from(positive(value)?).map_err(|_| invalid("too large"))?;
            }
            "max-header-bytes" => match usize::try_from(positive(value)?) {
                Ok(n) if n >= MIN_HEADER_BYTES => self.max_header_bytes = n,
                _ => return Err(invalid(&format!("expected at least {MIN_HEADER_BYTES}"))),
            },
            "tls-cert" => self.tls_cert = Some(PathBuf::from(text(value)?)),
            "tls-key" => self.tls_key = Some(PathBuf::from(text(value)?)),
            "auth" => {
                self.auth.mode = Some(match value {
                    "none" => AuthMode::None,
                    "jwt" => AuthMode::Jwt,
                    "introspection" => AuthMode::Introspection,
                    _ => return Err(invalid("expected jwt, introspection or none")),
                });
            }
            "auth-jwks" => self.auth.jwks = Some(text(value)?),
            "auth-issuer" => self.auth.issuer = Some(text(value)?),
            "auth-audience" => {
                self.auth.audience = value.split(',').map(str::trim).filter(|a| !a.is_empty()).map(str::to_string).collect();
                if self.auth.audience.is_empty() {
                    return Err(invalid("expected one audience or more, comma-separated"));
                }
            }
            "auth-token" => self.auth.token = token_sources(value).map_err(|reason| invalid(&reason))?,
            "auth-cache-ttl" if value.trim() == "0" => self.auth.cache_ttl = None,
            "auth-cache-ttl" => self.auth.cache_ttl = Some(secs(value)?),
            "auth-allow-internal" => self.auth.allow_internal = boolean(value)?,
            "auth-introspection-url" => self.auth.introspection_url = Some(text(value)?),
            "auth-client-id" => self.auth.client_id = Some(text(value)?),
            "auth-client-secret-env" => self.auth.client_secret_env = Some(text(value)?),
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// Splits a source's `wasm:` URI: its source parameters, and the endpoint URI of the rest over `base`.
    pub fn parse_uri(uri: &str, base: Limits) -> Result<(EndpointUri, Self), ConfigError> {
        Self::parse_uri_over(uri, base, Self::default())
    }

    /// As [`parse_uri`](Self::parse_uri), over `options` instead of the defaults.
    pub fn parse_uri_over(uri: &str, base: Limits, mut options: Self) -> Result<(EndpointUri, Self), ConfigError> {
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

    /// The `configure` pairs for the guest: `bind` and `path` when set, then `config`.
    pub(crate) fn config_pairs(&self, config: Vec<(String, String)>) -> Vec<(String, String)> {
        let mut pairs = Vec::with_capacity(config.len() + 2);
        if let Some(bind) = self.bind {
            pairs.push(("bind".to_string(), bind.to_string()));
        }
        if let Some(path) = &self.path {
            pairs.push(("path".to_string(), path.clone()));
        }
        pairs.extend(self.config.iter().cloned());
        pairs.extend(config);
        pairs
    }
}

/// `bearer,header:x-api-key,query:access_token,cookie:session`.
fn token_sources(value: &str) -> Result<Vec<TokenSource>, String> {
    let mut sources = Vec::new();
    for item in value.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let (kind, name) = item.split_once(':').unwrap_or((item, ""));
        let name = name.trim().to_string();
        let named = |make: fn(String) -> TokenSource| {
            if name.is_empty() { Err(format!("'{kind}:' needs a name, as in {kind}:token")) } else { Ok(make(name.clone())) }
        };
        sources.push(match kind {
            "bearer" if name.is_empty() => TokenSource::Bearer,
            "header" => named(TokenSource::Header)?,
            "query" => named(TokenSource::Query)?,
            "cookie" => named(TokenSource::Cookie)?,
            _ => return Err(format!("'{item}' is not bearer, header:NAME, query:NAME or cookie:NAME")),
        });
    }
    if sources.is_empty() {
        return Err("expected one source or more".into());
    }
    Ok(sources)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_uri_splits_into_source_parameters_and_limits() {
        let (uri, options) = SourceOptions::parse_uri(
            "wasm:hook.wasm?bind=127.0.0.1:9000&timeout=5&path=/hook&request-timeout=2",
            Limits::default(),
        )
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

    #[test]
    fn the_defaults_come_from_the_parameter_table() {
        let options = SourceOptions::default();
        assert_eq!(options.request_timeout, Duration::from_secs(30));
        assert_eq!(options.header_read_timeout, Duration::from_secs(10));
        assert_eq!(options.keep_alive_timeout, Duration::from_secs(5));
        assert_eq!(options.max_connections, 512);
        assert_eq!(options.max_header_bytes, 65536);
        assert_eq!(options.auth.mode, None, "no default for auth: a source must say who may call it");
        assert_eq!(options.auth.token, vec![TokenSource::Bearer]);
        for parameter in SOURCE_PARAMETERS {
            assert!(SourceOptions::is_parameter(parameter.name));
        }
    }

    #[test]
    fn edge_parameters_parse_and_refuse_bad_values() {
        let (_, options) = SourceOptions::parse_uri(
            "wasm:h.wasm?auth=jwt&auth-jwks=http://127.0.0.1:1/jwks&auth-issuer=me&auth-audience=a,b&auth-token=bearer,query:t,cookie:c&max-connections=8&max-header-bytes=9000&tls-cert=c.pem&tls-key=k.pem",
            Limits::default(),
        )
        .unwrap();
        assert_eq!(options.auth.mode, Some(AuthMode::Jwt));
        assert_eq!(options.auth.audience, vec!["a".to_string(), "b".to_string()]);
        assert_eq!(
            options.auth.token,
            vec![TokenSource::Bearer, TokenSource::Query("t".into()), TokenSource::Cookie("c".into())]
        );
        assert_eq!(options.max_connections, 8);
        assert_eq!(options.tls_key, Some(PathBuf::from("k.pem")));
        for bad in [
            "auth=maybe",
            "max-header-bytes=100",
            "max-connections=0",
            "auth-token=query:",
            "auth-token=form",
            "header-read-timeout=0",
        ] {
            assert!(SourceOptions::parse_uri(&format!("wasm:h.wasm?{bad}"), Limits::default()).is_err(), "{bad}");
        }
    }
}

/// A route's authentication (see [`super::auth`]): its compiled plan and the providers that can mint its principal.
#[cfg(feature = "auth")]
#[derive(Clone)]
pub struct KernelAuth {
    /// The plan: access mode, provider, credential sources, audience binding.
    pub plan: camel_api::security_policy::RouteSecurityPlan,
    /// The providers the plan's `provider_ref` is resolved in.
    pub providers: std::sync::Arc<camel_auth::ProviderRegistry>,
}

#[cfg(feature = "auth")]
impl KernelAuth {
    /// A route authentication from its plan and providers.
    pub fn new(
        plan: camel_api::security_policy::RouteSecurityPlan,
        providers: std::sync::Arc<camel_auth::ProviderRegistry>,
    ) -> Self {
        Self { plan, providers }
    }
}

#[cfg(feature = "auth")]
impl std::fmt::Debug for KernelAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KernelAuth")
            .field("provider", &self.plan.provider_ref)
            .field("credential_sources", &self.plan.credential_sources)
            .finish_non_exhaustive()
    }
}

#[cfg(feature = "auth")]
impl PartialEq for KernelAuth {
    fn eq(&self, other: &Self) -> bool {
        std::sync::Arc::ptr_eq(&self.providers, &other.providers) && self.plan.provider_ref == other.plan.provider_ref
    }
}
