//! An authorization-policy guest as a rust-camel `SecurityPolicy` and `PermissionEvaluator`.

use std::collections::BTreeMap;

use async_trait::async_trait;
use camel_api::security_policy::{
    AuthContext, AuthorizationDecision, Principal as CamelPrincipal, SecurityPolicy, store_principal_properties,
};
use camel_api::{CamelError, Exchange as CamelExchange};
use camel_auth::{AuthError, PermissionDecision, PermissionEvaluator, PermissionRequest as CamelPermissionRequest};
use serde_json::Value;

use super::error::{CamelWasmError, wasm_to_camel};
use super::mapping::ExchangeMapping;
use super::observe::Collector;
use crate::{Decision, EndpointUri, Limits, PermissionRequest, Policy, Principal, Runtime, WasmError};

/// A WASM policy gating a route: `RouteBuilder::security_policy(SecurityPolicyConfig::new(policy))`,
/// or by name from a `SecurityPolicyRegistry` in the YAML DSL.
///
/// `evaluate` sets the `camel.auth.*` properties of the authenticated
/// principal on the exchange (rust-camel's encoding, as its own policies
/// do), then asks the guest through [`Policy::authorize`]. A denial carries
/// the guest's reason; a guest failure is an error, so the exchange does not
/// pass either way.
#[derive(Debug, Clone)]
pub struct WasmSecurityPolicy {
    policy: Policy,
    mapping: ExchangeMapping,
    collector: Option<Collector>,
}

impl WasmSecurityPolicy {
    /// Wraps a loaded [`Policy`]; stream bodies are read up to its `max-stream-bytes`.
    pub fn new(policy: Policy) -> Self {
        Self { mapping: ExchangeMapping::for_limits(policy.limits()), policy, collector: None }
    }

    /// Reports each evaluation to `collector` (e.g. `context.metrics()`): its duration and errors.
    pub fn with_collector(mut self, collector: std::sync::Arc<dyn camel_api::MetricsCollector>) -> Self {
        self.collector = Some(Collector(collector));
        self
    }

    /// Loads the policy at `path` (relative to the runtime's base directory);
    /// each instance's `init` gets `config`.
    pub fn load(runtime: &Runtime, path: &str, limits: Limits, config: Vec<(String, String)>) -> Result<Self, WasmError> {
        Ok(Self::new(Policy::load(runtime, path, limits, config)?))
    }

    /// Loads the policy a `wasm:path?knobs` URI names.
    pub fn from_uri(runtime: &Runtime, uri: &str, config: Vec<(String, String)>) -> Result<Self, CamelWasmError> {
        let uri: EndpointUri = uri.parse()?;
        Ok(Self::load(runtime, &uri.path, uri.limits, config)?)
    }

    /// Reads stream bodies up to `bytes` instead of the limits' `max-stream-bytes`.
    pub fn with_stream_limit(mut self, bytes: usize) -> Self {
        self.mapping = ExchangeMapping::new(bytes);
        self
    }

    /// The loaded policy.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// A permission evaluator over the same guest (and the same instances).
    pub fn permission_evaluator(&self) -> WasmPermissionEvaluator {
        WasmPermissionEvaluator::new(self.policy.clone())
    }
}

#[async_trait]
impl SecurityPolicy for WasmSecurityPolicy {
    async fn evaluate(&self, exchange: &mut CamelExchange, auth: &AuthContext<'_>) -> Result<AuthorizationDecision, CamelError> {
        let principal = auth.principal.principal();
        store_principal_properties(exchange, principal);
        let sent = self.mapping.to_wasm_for_policy(exchange).await?;
        let started = std::time::Instant::now();
        let decision = self.policy.authorize(&sent, &principal_to_wasm(principal)).await;
        if let Some(collector) = &self.collector {
            collector.report(self.policy.name(), None, started.elapsed(), decision.as_ref().err());
        }
        let decision = decision.map_err(wasm_to_camel)?;
        Ok(match decision {
            Decision::Granted => AuthorizationDecision::Granted { principal: principal.clone() },
            Decision::Denied { reason } => {
                AuthorizationDecision::Denied { reason, required: Vec::new(), actual: principal.roles.clone() }
            }
        })
    }
}

/// A WASM policy answering rust-camel permission requests (`camel_auth::PermissionEvaluator`),
/// for a `PermissionEvaluatorRegistry` or `camel_auth::PermissionPolicy`.
///
/// The guest sees only the request's `camel.auth.*` and `camel.permission.*`
/// properties ([`Policy::check_permission`]). A guest failure is
/// `AuthError::ProviderUnavailable`, so nothing is granted by accident.
#[derive(Debug, Clone)]
pub struct WasmPermissionEvaluator {
    policy: Policy,
}

impl WasmPermissionEvaluator {
    /// Wraps a loaded [`Policy`].
    pub fn new(policy: Policy) -> Self {
        Self { policy }
    }

    /// Loads the policy at `path`; each instance's `init` gets `config`.
    pub fn load(runtime: &Runtime, path: &str, limits: Limits, config: Vec<(String, String)>) -> Result<Self, WasmError> {
        Ok(Self::new(Policy::load(runtime, path, limits, config)?))
    }
}

#[async_trait]
impl PermissionEvaluator for WasmPermissionEvaluator {
    async fn evaluate(&self, request: CamelPermissionRequest) -> Result<PermissionDecision, AuthError> {
        let request = PermissionRequest {
            principal: principal_to_wasm(&request.principal),
            resource: request.resource,
            action: request.action,
            requested_scopes: request.requested_scopes,
            context: request.context,
        };
        match self.policy.check_permission(&request).await {
            Ok(Decision::Granted) => Ok(PermissionDecision::Granted),
            Ok(Decision::Denied { reason }) => Ok(PermissionDecision::Denied { reason }),
            Err(err) => Err(AuthError::ProviderUnavailable(err.to_string())),
        }
    }
}

/// camel-wasm's principal for rust-camel's.
///
/// An empty issuer is none; audiences become one string (the audience
/// itself when there is one, their JSON array text when several); claims
/// that are a JSON object become the claims map, `null` none, and any other
/// value the single claim `claims`.
pub fn principal_to_wasm(principal: &CamelPrincipal) -> Principal {
    let audience = match principal.audience.as_slice() {
        [] => None,
        [one] => Some(one.clone()),
        many => Some(Value::from(many.to_vec()).to_string()),
    };
    let claims: BTreeMap<String, Value> = match &principal.claims {
        Value::Object(map) => map.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        Value::Null => BTreeMap::new(),
        other => BTreeMap::from([("claims".to_string(), other.clone())]),
    };
    Principal {
        subject: principal.subject.clone(),
        roles: principal.roles.clone(),
        scopes: principal.scopes.clone(),
        issuer: Some(principal.issuer.clone()).filter(|i| !i.is_empty()),
        audience,
        claims,
    }
}
