//! The `authorization-policy` world: grant or deny an exchange or a permission request.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use wasmtime::Store;
use wasmtime::component::{Component, InstancePre};

use crate::bindings::{WasmError as GuestError, WasmExchange};
use crate::error::WasmError;
use crate::exchange::{Exchange, wire};
use crate::limits::Limits;
use crate::pool::{Call, Pool, World};
use crate::runtime::Runtime;
use crate::store::StoreState;
use crate::stream::Streams;

mod bindings {
    wasmtime::component::bindgen!({
        path: "wit",
        world: "authorization-policy",
        exports: { default: async },
        with: {
            "camel:plugin/types": crate::bindings::types,
            "camel:plugin/host": crate::bindings::host,
        },
    });
}

pub(crate) type Pre = bindings::AuthorizationPolicyPre<StoreState>;

/// The `authorization-policy` world as the pool sees it.
pub(crate) struct PolicyWorld;

impl PolicyWorld {}

impl World for PolicyWorld {
    const NAME: &'static str = "authorization-policy";
    /// Authorization policies may never call, whatever `allow-call` says.
    const MAY_CALL: bool = false;
    type Pre = Pre;
    type Bindings = bindings::AuthorizationPolicy;
    type Request = ();
    type Answer = Option<String>;

    fn pre(instance_pre: InstancePre<StoreState>) -> wasmtime::Result<Pre> {
        Pre::new(instance_pre)
    }

    fn component(pre: &Pre) -> &Component {
        pre.instance_pre().component()
    }

    async fn instantiate(pre: &Pre, store: &mut Store<StoreState>) -> wasmtime::Result<bindings::AuthorizationPolicy> {
        pre.instantiate_async(store).await
    }

    async fn init(
        bindings: &bindings::AuthorizationPolicy,
        store: &mut Store<StoreState>,
        config: &[(String, String)],
    ) -> wasmtime::Result<Result<(), String>> {
        bindings.call_init(store, config).await
    }

    async fn call(
        bindings: &bindings::AuthorizationPolicy,
        store: &mut Store<StoreState>,
        _request: &(),
        exchange: WasmExchange,
    ) -> wasmtime::Result<Result<Option<String>, GuestError>> {
        bindings.call_evaluate(store, &exchange).await
    }
}

/// The prefix of the properties that describe the authenticated principal.
const AUTH_PREFIX: &str = "camel.auth.";

/// What a policy decided.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "decision", rename_all = "kebab-case")]
pub enum Decision {
    /// The exchange may pass.
    Granted,
    /// The exchange is stopped, for `reason`.
    Denied {
        /// Why, in the guest's words.
        reason: String,
    },
}

/// Who is calling, as an authentication step established it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Principal {
    /// The subject (user or service id).
    pub subject: String,
    /// Granted roles.
    pub roles: Vec<String>,
    /// Granted scopes.
    pub scopes: Vec<String>,
    /// Token issuer.
    pub issuer: Option<String>,
    /// Token audience.
    pub audience: Option<String>,
    /// Other claims.
    pub claims: BTreeMap<String, Value>,
}

/// A permission question: may `principal` do `action` on `resource`?
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PermissionRequest {
    /// Who asks.
    pub principal: Principal,
    /// What is accessed.
    pub resource: String,
    /// What is done to it.
    pub action: String,
    /// Scopes the request needs.
    pub requested_scopes: Vec<String>,
    /// Anything else the policy may weigh.
    pub context: Value,
}

impl Principal {
    /// The `camel.auth.*` properties a policy guest reads.
    pub fn auth_properties(&self) -> BTreeMap<String, Value> {
        let mut props = BTreeMap::new();
        props.insert("camel.auth.subject".into(), Value::String(self.subject.clone()));
        props.insert("camel.auth.roles".into(), Value::from(self.roles.clone()));
        props.insert("camel.auth.scopes".into(), Value::from(self.scopes.clone()));
        if let Some(issuer) = &self.issuer {
            props.insert("camel.auth.issuer".into(), Value::String(issuer.clone()));
        }
        if let Some(audience) = &self.audience {
            props.insert("camel.auth.audience".into(), Value::String(audience.clone()));
        }
        props.insert("camel.auth.claims".into(), serde_json::to_value(&self.claims).unwrap_or_default());
        props.insert("camel.auth.principal".into(), serde_json::to_value(self).unwrap_or_default());
        props
    }
}

impl PermissionRequest {
    /// An exchange carrying exactly the `camel.auth.*` and `camel.permission.*` properties.
    pub fn to_exchange(&self) -> Exchange {
        let mut exchange = Exchange::new(crate::Body::Empty);
        exchange.properties = self.principal.auth_properties();
        let p = &mut exchange.properties;
        p.insert("camel.permission.resource".into(), Value::String(self.resource.clone()));
        p.insert("camel.permission.action".into(), Value::String(self.action.clone()));
        p.insert("camel.permission.requested_scopes".into(), Value::from(self.requested_scopes.clone()));
        p.insert("camel.permission.context".into(), self.context.clone());
        exchange
    }
}

/// A loaded `authorization-policy` component.
#[derive(Clone)]
pub struct Policy {
    pool: Arc<Pool<PolicyWorld>>,
}

impl std::fmt::Debug for Policy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Policy").field("name", &self.name()).finish_non_exhaustive()
    }
}

impl Policy {
    /// Loads the policy at `path`; each instance runs `init(config)` once and
    /// then serves evaluations, so what `init` keeps is there when it evaluates.
    pub fn load(runtime: &Runtime, path: &str, limits: Limits, config: Vec<(String, String)>) -> Result<Self, WasmError> {
        let pool = Pool::<PolicyWorld>::open(runtime, path, limits, config)?;
        Ok(Self { pool })
    }

    /// The plugin's name (its path).
    pub fn name(&self) -> &str {
        self.pool.plugin()
    }

    /// This endpoint's limits.
    pub fn limits(&self) -> &Limits {
        self.pool.limits()
    }

    /// This endpoint's health: unhealthy after `unhealthy-after` failed calls in a row.
    pub fn health(&self) -> crate::HealthStatus {
        self.pool.health()
    }

    /// Asks the guest about `exchange`.
    pub async fn evaluate(&self, exchange: &Exchange) -> Result<Decision, WasmError> {
        self.decide(exchange.clone()).await
    }

    /// Asks the guest about `exchange`, which it consumes.
    async fn decide(&self, exchange: Exchange) -> Result<Decision, WasmError> {
        // A policy decides on headers and properties: a stream body reaches it empty, unread.
        let (exchange, sent) = wire::to_wire(exchange);
        let call = Call { request: (), exchange, properties: sent.properties, streams: Streams::default(), permit: None };
        let out = self.pool.call(call).await?;
        match out.output.map_err(|e| WasmError::from_guest(self.name(), e))? {
            None => Ok(Decision::Granted),
            Some(reason) => Ok(Decision::Denied { reason }),
        }
    }

    /// Replaces every `camel.auth.*` property of `exchange` with `principal`'s, then evaluates it.
    ///
    /// An issuer or audience the incoming exchange carried never survives
    /// next to a principal that has none.
    pub async fn authorize(&self, exchange: &Exchange, principal: &Principal) -> Result<Decision, WasmError> {
        let mut exchange = exchange.clone();
        exchange.properties.retain(|key, _| !key.starts_with(AUTH_PREFIX));
        exchange.properties.extend(principal.auth_properties());
        self.decide(exchange).await
    }

    /// Answers a permission request; the guest sees only its auth and permission properties.
    pub async fn check_permission(&self, request: &PermissionRequest) -> Result<Decision, WasmError> {
        self.decide(request.to_exchange()).await
    }
}
