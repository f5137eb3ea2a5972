//! Who may call a source: decided at the edge, before the guest wakes and
//! before the body is read, through camel-auth's kernel (`kernel_authenticate`).
//!
//! Fail-closed: a source whose `auth` is not set, and that was given no
//! route authentication ([`KernelAuth`]), does not start. `auth=none` is the
//! explicit way to let anyone in.

#[cfg(feature = "auth")]
use std::sync::Arc;

#[cfg(feature = "auth")]
use camel_api::security_policy::{AccessMode, AudienceBinding, CredentialSource, Principal, RouteSecurityPlan, TransportId};
#[cfg(feature = "auth")]
use camel_auth::{AuthenticatedPrincipal, ProviderEntry, ProviderRegistry};

use super::SourceError;
#[cfg(feature = "auth")]
pub use super::options::KernelAuth;
#[cfg(feature = "auth")]
use super::options::TokenSource;
use super::options::{AuthMode, AuthOptions};

/// The provider name under which the `auth*` parameters' authenticator is registered.
#[cfg(feature = "auth")]
const EDGE_PROVIDER: &str = "camel-wasm-edge";

/// The principal an authenticated request carries onto its exchange.
#[cfg(feature = "auth")]
pub(crate) type EdgePrincipal = AuthenticatedPrincipal;
/// Without the `auth` feature no request is authenticated.
#[cfg(not(feature = "auth"))]
#[derive(Clone, Debug)]
pub(crate) enum EdgePrincipal {}

/// How the edge decides on each request.
#[derive(Clone)]
pub(crate) enum Access {
    /// Everyone is let in (`auth=none`).
    Public,
    /// A token is needed, and it must mint a principal.
    #[cfg(feature = "auth")]
    Authenticated(Arc<KernelAuth>),
}

impl Access {
    /// The access `options` ask for, with its authenticator built (a remote JWKS is looked up later, per request).
    pub(crate) async fn from_options(plugin: &str, options: &AuthOptions) -> Result<Self, SourceError> {
        let refuse = |reason: String| SourceError::Auth { plugin: plugin.to_string(), reason };
        #[cfg(feature = "auth")]
        if let Some(kernel) = &options.kernel {
            if options.mode.is_some() {
                return Err(refuse("the route declares its own authentication; do not also set auth=".into()));
            }
            if matches!(kernel.plan.access_mode, AccessMode::Public) {
                return Err(refuse(
                    "the route's security plan is Public; to serve it unauthenticated say so with auth=none".into(),
                ));
            }
            return Ok(Self::Authenticated(Arc::new(kernel.clone())));
        }
        match options.mode {
            None => Err(refuse(
                "no authentication is configured, and a source does not start without it: set auth=jwt \
                 (with auth-jwks, auth-issuer and auth-audience), auth=introspection (with auth-introspection-url, \
                 auth-client-id and auth-client-secret-env), declare the route's security, or set auth=none to let \
                 anyone who reaches the listener in"
                    .into(),
            )),
            Some(AuthMode::None) => Ok(Self::Public),
            #[cfg(feature = "auth")]
            Some(mode) => build(mode, options).await.map(|kernel| Self::Authenticated(Arc::new(kernel))).map_err(refuse),
            #[cfg(not(feature = "auth"))]
            Some(_) => Err(refuse("this build of camel-wasm has no `auth` feature".into())),
        }
    }

    /// Decides on one request from its head: `Ok(None)` lets it in unauthenticated,
    /// `Ok(Some(principal))` authenticated, `Err` says why it is refused (401).
    pub(crate) async fn check(&self, _head: &http::request::Parts) -> Result<Option<EdgePrincipal>, String> {
        match self {
            Self::Public => Ok(None),
            #[cfg(feature = "auth")]
            Self::Authenticated(kernel) => {
                let Some(token) = camel_auth::extract_token_multi(&_head.headers, &_head.uri, &kernel.plan.credential_sources)
                else {
                    return Err("no credential in any source the route accepts".into());
                };
                camel_auth::kernel_authenticate(&kernel.plan, &kernel.providers, &token)
                    .await
                    .map(Some)
                    .map_err(|e| e.to_string())
            }
        }
    }
}

/// The exchange properties `principal` sets (`camel.auth.*`, as rust-camel names them).
#[cfg(feature = "auth")]
pub(crate) fn principal_properties(principal: &EdgePrincipal) -> Vec<(String, serde_json::Value)> {
    use camel_api::security_policy::AuthPrincipal;
    use serde_json::json;
    let p: &Principal = principal.principal();
    let mut properties = vec![
        ("camel.auth.subject".to_string(), json!(p.subject)),
        ("camel.auth.issuer".to_string(), json!(p.issuer)),
        ("camel.auth.roles".to_string(), json!(serde_json::to_string(&p.roles).unwrap_or_default())),
        ("camel.auth.scopes".to_string(), json!(serde_json::to_string(&p.scopes).unwrap_or_default())),
        ("camel.auth.audience".to_string(), json!(serde_json::to_string(&p.audience).unwrap_or_default())),
        ("camel.auth.claims".to_string(), json!(serde_json::to_string(&p.claims).unwrap_or_default())),
        ("camel.auth.principal".to_string(), json!(serde_json::to_string(p).unwrap_or_default())),
    ];
    properties.push(("camel.auth.provider".to_string(), json!(principal.provider_id())));
    properties
}

/// Without the `auth` feature there is no principal, and no property.
#[cfg(not(feature = "auth"))]
pub(crate) fn principal_properties(principal: &EdgePrincipal) -> Vec<(String, serde_json::Value)> {
    match *principal {}
}

/// The authenticator the `auth*` parameters describe, as a one-provider kernel.
#[cfg(feature = "auth")]
async fn build(mode: AuthMode, options: &AuthOptions) -> Result<KernelAuth, String> {
    use camel_api::SsrfPolicy;
    use camel_auth::claims::{ClaimPaths, JsonPointerClaimsMapper};
    let policy = if options.allow_internal { SsrfPolicy::AllowInternal } else { SsrfPolicy::PublicHttpsOnly };
    let mapper = Arc::new(JsonPointerClaimsMapper::new(ClaimPaths {
        subject: "/sub".into(),
        roles: vec!["/roles".into(), "/realm_access/roles".into()],
        scopes: Some("/scope".into()),
    }));
    let need = |value: &Option<String>, name: &str| value.clone().ok_or_else(|| format!("auth={} needs {name}", mode_name(mode)));
    let (authenticator, binding): (Arc<dyn camel_auth::TokenAuthenticator>, _) = match mode {
        AuthMode::Jwt => {
            let jwks = need(&options.jwks, "auth-jwks (an http(s) URL or a file of the JWKS)")?;
            let issuer = need(&options.issuer, "auth-issuer")?;
            if options.audience.is_empty() {
                return Err("auth=jwt needs auth-audience".into());
            }
            let keys: Arc<dyn camel_auth::JwksProvider> = if jwks.starts_with("http://") || jwks.starts_with("https://") {
                Arc::new(
                    camel_auth::RemoteJwksProvider::new(jwks.clone(), policy)
                        .await
                        .map_err(|e| format!("auth-jwks {jwks}: {e}"))?,
                )
            } else {
                Arc::new(FileJwks::read(&jwks)?)
            };
            let validator = camel_auth::LocalJwtValidator::new(options.audience.clone(), issuer, keys, mapper);
            (Arc::new(validator), None)
        }
        AuthMode::Introspection => {
            let url = need(&options.introspection_url, "auth-introspection-url")?;
            let client_id = need(&options.client_id, "auth-client-id")?;
            let env = need(&options.client_secret_env, "auth-client-secret-env (the variable holding the client secret)")?;
            let secret =
                std::env::var(&env).map_err(|_| format!("auth-client-secret-env: the environment variable {env} is not set"))?;
            let options_cache = camel_auth::IntrospectionCacheOptions::default();
            let introspector = camel_auth::CachingTokenIntrospector::new(url.clone(), client_id, secret, options_cache, policy)
                .await
                .map_err(|e| format!("auth-introspection-url {url}: {e}"))?;
            let authenticator = camel_auth::IntrospectionAuthenticator::new(Arc::new(introspector), mapper);
            let binding = (options.issuer.is_some() || !options.audience.is_empty()).then(|| AudienceBinding {
                issuers: options.issuer.iter().cloned().collect(),
                audiences: options.audience.clone(),
            });
            (Arc::new(authenticator), binding)
        }
        AuthMode::None => unreachable!("auth=none builds no authenticator"),
    };
    let mut providers = ProviderRegistry::new();
    if let Some(ttl) = options.cache_ttl {
        // A token that authenticated is not checked again for `ttl` (nor past its exp); denials are never cached.
        let cache = camel_auth::AuthnCache::new(camel_auth::AuthnCacheOptions { ttl, ..Default::default() });
        providers = providers.with_authn_cache(Arc::new(cache));
    }
    providers.register(EDGE_PROVIDER, ProviderEntry { authenticator, audience_binding: None });
    let credential_sources = options
        .token
        .iter()
        .map(|source| match source {
            TokenSource::Bearer => CredentialSource::AuthorizationHeader,
            TokenSource::Header(name) => CredentialSource::Header { name: name.clone() },
            TokenSource::Query(param) => CredentialSource::QueryParam { param: param.clone() },
            TokenSource::Cookie(name) => CredentialSource::Cookie { name: name.clone() },
        })
        .collect();
    let plan = RouteSecurityPlan {
        access_mode: AccessMode::Authenticated,
        provider_ref: Some(EDGE_PROVIDER.into()),
        transport: TransportId::Wasm,
        credential_sources,
        audience_binding: binding,
    };
    Ok(KernelAuth::new(plan, Arc::new(providers)))
}

#[cfg(feature = "auth")]
fn mode_name(mode: AuthMode) -> &'static str {
    match mode {
        AuthMode::None => "none",
        AuthMode::Jwt => "jwt",
        AuthMode::Introspection => "introspection",
    }
}

/// A JWKS read once from a file (keys rotate with a new file and a restart, or use an URL).
#[cfg(feature = "auth")]
struct FileJwks(Vec<camel_auth::Jwk>);

#[cfg(feature = "auth")]
impl FileJwks {
    /// Largest JWKS file read.
    const MAX_BYTES: u64 = 1024 * 1024;

    fn read(path: &str) -> Result<Self, String> {
        let size = std::fs::metadata(path).map_err(|e| format!("auth-jwks {path}: {e}"))?.len();
        if size > Self::MAX_BYTES {
            return Err(format!("auth-jwks {path}: {size} bytes, over {} bytes", Self::MAX_BYTES));
        }
        let text = std::fs::read_to_string(path).map_err(|e| format!("auth-jwks {path}: {e}"))?;
        #[derive(serde::Deserialize)]
        struct Document {
            keys: Vec<camel_auth::Jwk>,
        }
        let document: Document =
            serde_json::from_str(&text).map_err(|e| format!("auth-jwks {path}: not a JWKS document: {e}"))?;
        if document.keys.is_empty() {
            return Err(format!("auth-jwks {path}: the document holds no key"));
        }
        Ok(Self(document.keys))
    }
}

#[cfg(feature = "auth")]
#[async_trait::async_trait]
impl camel_auth::JwksProvider for FileJwks {
    async fn get_signing_keys(&self) -> Result<Vec<camel_auth::Jwk>, camel_auth::AuthError> {
        Ok(self.0.clone())
    }

    async fn refresh(&self) -> Result<(), camel_auth::AuthError> {
        Ok(())
    }
}

#[cfg(feature = "auth")]
tokio::task_local! {
    /// The principal of the request whose exchange the route is running (for the rust-camel consumer's carrier).
    static EDGE_PRINCIPAL: Option<EdgePrincipal>;
}

/// Runs `route` with `principal` as the one [`edge_principal`] gives.
pub(crate) async fn with_principal<F: std::future::Future>(principal: Option<EdgePrincipal>, route: F) -> F::Output {
    #[cfg(feature = "auth")]
    return EDGE_PRINCIPAL.scope(principal, route).await;
    #[cfg(not(feature = "auth"))]
    {
        // Without `auth` there is no principal (the type is uninhabited).
        let _ = principal;
        route.await
    }
}

/// The principal a source's edge authenticated for the exchange the submit
/// service is handling now (none outside a submit, or when `auth=none`).
#[cfg(feature = "auth")]
pub fn edge_principal() -> Option<AuthenticatedPrincipal> {
    EDGE_PRINCIPAL.try_with(Clone::clone).ok().flatten()
}
