//! Authenticated exchanges for the rust-camel tests: a principal, and an
//! exchange carrying it the way an authenticating transport leaves it.
//! Included by `tests/camel/main.rs` and `tests/camel_toml.rs`.

use std::sync::Arc;

use camel_api::security_policy::{AccessMode, CredentialSource, Principal, RouteSecurityPlan, TransportId};
use camel_api::{Exchange, Message};
use camel_auth::credential_source::ExtractedToken;
use camel_auth::native_auth::{NativeCredential, NativeCredentialSecret, NativeCredentialStore};
use camel_auth::{ProviderEntry, ProviderRegistry, StaticTokenAuthenticator, install_carrier, kernel_authenticate};
use serde_json::json;

/// A principal `subject` with `roles`, issued by `tests`.
pub fn principal(subject: &str, roles: &[&str]) -> Principal {
    Principal {
        subject: subject.into(),
        issuer: "tests".into(),
        audience: vec![],
        scopes: vec![],
        roles: roles.iter().map(|r| r.to_string()).collect(),
        claims: json!({}),
    }
}

/// An in-out text exchange carrying `principal`, minted by camel-auth's kernel from a static token.
pub async fn authenticated(body: &str, principal: Principal) -> Exchange {
    let token = format!("token-of-{}", principal.subject);
    let store = NativeCredentialStore::try_new(vec![NativeCredential {
        secret: NativeCredentialSecret::Plaintext { value: token.clone().into() },
        principal,
    }])
    .unwrap();
    let providers = ProviderRegistry::new();
    let authenticator = Arc::new(StaticTokenAuthenticator::new(store));
    providers.register("static", ProviderEntry { authenticator, audience_binding: None });
    let plan = RouteSecurityPlan {
        access_mode: AccessMode::Authenticated,
        provider_ref: Some("static".into()),
        transport: TransportId::Http,
        credential_sources: vec![CredentialSource::AuthorizationHeader],
        audience_binding: None,
    };
    let credentials = ExtractedToken { token, source: CredentialSource::AuthorizationHeader };
    let minted = kernel_authenticate(&plan, &providers, &credentials).await.unwrap();
    let mut exchange = Exchange::new_in_out(Message::new(body));
    install_carrier(&mut exchange, &minted);
    exchange
}
