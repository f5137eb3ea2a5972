//! Everything WASM a `CamelConfig` declares, loaded on one runtime and
//! registered in a `CamelContext`.
//!
//! A CamelContext resolves beans, security policies and permission
//! evaluators when a route is added, from the registries it was given: the
//! `BeanRegistry` handed to `CamelContext::builder().beans(..)` (shared, so
//! beans added to it after `build()` are found) and the registries in the
//! `camel_dsl::SecurityCompileContext` routes are compiled with. So loading
//! needs no context, and registering needs no particular order, as long as
//! it happens before the routes that use it are added.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use camel_auth::{
    CachingPermissionEvaluator, PermissionCacheOptions, PermissionEvaluator, PermissionEvaluatorRegistry, SecurityPolicyRegistry,
};
use camel_bean::BeanRegistry;
use camel_config::CamelConfig;
use camel_config::config::{BeanConfig, PermissionCacheConfig, PermissionProviderConfig, WasmSecurityPolicyConfig};
use camel_core::CamelContext;

use super::bundle::WasmBundle;
use super::limits::{TomlLimits, check_policy_table};
use crate::camel::{CamelWasmError, WasmBean, WasmComponent, WasmPermissionEvaluator, WasmSecurityPolicy};
use crate::{Limits, Runtime};

/// The WASM beans, permission providers and security policies of a
/// Camel.toml, loaded on the one [`Runtime`] its `wasm` bundle builds.
///
/// Two steps, in either order relative to building the context:
/// [`load`](Self::load) (no context needed), then [`add_beans_to`](Self::add_beans_to)
/// the context's bean registry (or hand [`beans`](Self::beans) to the context
/// builder) and [`register`](Self::register) the `wasm` component in it.
/// [`register_camel_toml`] does all of it on a built context.
pub struct WasmRegistration {
    bundle: WasmBundle,
    runtime: Runtime,
    beans: BTreeMap<String, WasmBean>,
    bean_registry: Arc<Mutex<BeanRegistry>>,
    providers: BTreeMap<String, WasmPermissionEvaluator>,
    evaluators: Arc<PermissionEvaluatorRegistry>,
    policies: BTreeMap<String, WasmSecurityPolicy>,
    policy_registry: Arc<SecurityPolicyRegistry>,
    component: Option<WasmComponent>,
}

impl std::fmt::Debug for WasmRegistration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WasmRegistration")
            .field("runtime", &self.runtime)
            .field("beans", &self.beans.keys().collect::<Vec<_>>())
            .field("permission_providers", &self.providers.keys().collect::<Vec<_>>())
            .field("security_policies", &self.policies.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

/// Loads everything WASM `config` declares (paths under its `[components.wasm]`
/// `plugins-dir`, relative to `root`, the Camel.toml's directory), adds the
/// beans to `beans` and registers the `wasm` component in `context`.
///
/// `beans` must be the registry `context` was built with
/// (`CamelContext::builder().beans(beans.clone())`): the context reads beans
/// from it when a route is added, so it may already be built. Call this
/// before adding the routes that use these beans, `wasm:` endpoints or
/// (through [`WasmRegistration::permission_evaluators`] and
/// [`WasmRegistration::security_policies`]) policies; other components may be
/// registered before or after.
pub async fn register_camel_toml(
    config: &CamelConfig,
    root: impl AsRef<Path>,
    context: &mut CamelContext,
    beans: &Mutex<BeanRegistry>,
) -> Result<WasmRegistration, CamelWasmError> {
    let mut registration = WasmRegistration::load(config, root).await?;
    registration.add_beans_to(beans)?;
    registration.register(context);
    Ok(registration)
}

fn entry_error(entry: String) -> impl Fn(CamelWasmError) -> CamelWasmError {
    move |source| CamelWasmError::CamelToml { entry: entry.clone(), source: Box::new(source) }
}

/// `config` pairs in key order, as rust-camel hands them to `init`.
fn init_config<'a>(config: impl IntoIterator<Item = (&'a String, &'a String)>) -> Vec<(String, String)> {
    let sorted: BTreeMap<&String, &String> = config.into_iter().collect();
    sorted.into_iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

/// A bean's `plugin`: a path under the plugins directory; rust-camel's bare name gets `.wasm`.
fn bean_path(plugin: &str) -> String {
    if Path::new(plugin).extension().is_some() { plugin.to_string() } else { format!("{plugin}.wasm") }
}

impl WasmRegistration {
    /// Loads the beans (`[default.beans.<name>]`), the `provider = "wasm"`
    /// permission providers (`[security.permissions.<name>]`) and the WASM
    /// security policies (`[security.policies.wasm.<name>]`) of `config`.
    ///
    /// Every limits table is checked before anything is loaded. Errors name
    /// the entry and the cause: the field of a bad limit, the path of a
    /// missing plugin. Providers of another kind (`keycloak-uma`, ...) are
    /// left to whoever handles them.
    pub async fn load(config: &CamelConfig, root: impl AsRef<Path>) -> Result<Self, CamelWasmError> {
        let bundle = WasmBundle::from_camel_config(config)?.root(root.as_ref());
        let plan = Plan::of(config, bundle.defaults())?;
        let runtime = bundle.runtime()?;
        let bundle = bundle.with_runtime(runtime.clone());

        let bean_registry = BeanRegistry::new();
        let mut beans = BTreeMap::new();
        for (name, (path, limits, init)) in plan.beans {
            let error = entry_error(format!("bean '{name}'"));
            let bean = WasmBean::load(&runtime, &path, limits.limits, init).await.map_err(|e| error(e.into()))?;
            bean_registry.register(name.clone(), bean.clone()).map_err(|e| error(CamelWasmError::InvalidEntry(e.to_string())))?;
            beans.insert(name, bean);
        }

        let evaluators = PermissionEvaluatorRegistry::new();
        let mut providers = BTreeMap::new();
        for (name, (path, limits, init, cache)) in plan.providers {
            let error = entry_error(format!("permission provider '{name}'"));
            let evaluator = WasmPermissionEvaluator::load(&runtime, &path, limits, init).map_err(|e| error(e.into()))?;
            evaluators.register(name.clone(), cached(evaluator.clone(), cache));
            providers.insert(name, evaluator);
        }

        let policy_registry = SecurityPolicyRegistry::new();
        let mut policies = BTreeMap::new();
        for (name, (path, limits, init)) in plan.policies {
            let error = entry_error(format!("security policy '{name}'"));
            let policy = WasmSecurityPolicy::load(&runtime, &path, limits.limits, init).map_err(|e| error(e.into()))?;
            policy_registry.register(name.clone(), Arc::new(policy.clone()));
            policies.insert(name, policy);
        }

        Ok(Self {
            bundle,
            runtime,
            beans,
            bean_registry: Arc::new(Mutex::new(bean_registry)),
            providers,
            evaluators: Arc::new(evaluators),
            policies,
            policy_registry: Arc::new(policy_registry),
            component: None,
        })
    }

    /// Registers the `wasm` component (on the shared runtime, with the
    /// `[components.wasm]` defaults) in `context`, guests' calls (the beans'
    /// included) routed to `context`'s components, and returns it.
    ///
    /// The `wasm` language is registered too (same runtime and defaults), unless
    /// the context has one by that name already.
    ///
    /// Once: the runtime's `camel-call` routes go to one context.
    pub fn register(&mut self, context: &mut CamelContext) -> WasmComponent {
        let component = self.bundle.clone().context(context).component(self.runtime.clone());
        context.register_component(component.clone());
        if context.resolve_language(crate::camel::LANGUAGE_NAME).is_none() {
            let language =
                crate::camel::WasmLanguage::new(self.runtime.clone()).with_default_limits(self.bundle.defaults().limits.clone());
            // Checked just above: the name is free.
            let _ = context.register_language(crate::camel::LANGUAGE_NAME, Box::new(language));
        }
        self.component = Some(component.clone());
        component
    }

    /// The `wasm` component [`register`](Self::register) registered, if it ran:
    /// its [`camel_endpoints`](WasmComponent::camel_endpoints) send to the context's endpoints.
    pub fn wasm_component(&self) -> Option<&WasmComponent> {
        self.component.as_ref()
    }

    /// Adds the beans to `registry`, the one a context was (or will be) built
    /// with; a name already taken there is an error naming the bean.
    pub fn add_beans_to(&self, registry: &Mutex<BeanRegistry>) -> Result<(), CamelWasmError> {
        let registry = registry.lock().unwrap_or_else(|e| e.into_inner());
        for (name, bean) in &self.beans {
            registry.register(name.clone(), bean.clone()).map_err(|e| CamelWasmError::CamelToml {
                entry: format!("bean '{name}'"),
                source: Box::new(CamelWasmError::InvalidEntry(e.to_string())),
            })?;
        }
        Ok(())
    }

    /// A bean registry holding just the beans, for `CamelContext::builder().beans(..)`
    /// or camel-config's `configure_context_with_beans`.
    pub fn beans(&self) -> Arc<Mutex<BeanRegistry>> {
        self.bean_registry.clone()
    }

    /// The permission evaluators by name, each behind the cache its entry's
    /// `cache` table sets; for `SecurityCompileContext::with_evaluator_registry`
    /// (YAML `security_policy: { permission: { policy: <name> } }`).
    pub fn permission_evaluators(&self) -> Arc<PermissionEvaluatorRegistry> {
        self.evaluators.clone()
    }

    /// The security policies by name, for `SecurityCompileContext::with_security_policy_registry`
    /// (YAML `security_policy: { wasm: <name> }` or `{ ref: <name> }`).
    pub fn security_policies(&self) -> Arc<SecurityPolicyRegistry> {
        self.policy_registry.clone()
    }

    /// The runtime everything runs on.
    pub fn runtime(&self) -> &Runtime {
        &self.runtime
    }

    /// The `[components.wasm]` bundle: plugins directory and defaults.
    pub fn bundle(&self) -> &WasmBundle {
        &self.bundle
    }

    /// The bean `name`.
    pub fn bean(&self, name: &str) -> Option<&WasmBean> {
        self.beans.get(name)
    }

    /// The permission provider `name`, uncached.
    pub fn permission_evaluator(&self, name: &str) -> Option<&WasmPermissionEvaluator> {
        self.providers.get(name)
    }

    /// The security policy `name`.
    pub fn security_policy(&self, name: &str) -> Option<&WasmSecurityPolicy> {
        self.policies.get(name)
    }
}

/// `evaluator` behind the cache `cache` describes (none when both TTLs are zero).
fn cached(evaluator: WasmPermissionEvaluator, cache: PermissionCacheConfig) -> Arc<dyn PermissionEvaluator> {
    if cache.positive_ttl_secs == 0 && cache.negative_ttl_secs == 0 {
        return Arc::new(evaluator);
    }
    let options = PermissionCacheOptions {
        positive_ttl: Duration::from_secs(cache.positive_ttl_secs),
        negative_ttl: Duration::from_secs(cache.negative_ttl_secs),
        max_entries: cache.max_entries,
    };
    Arc::new(CachingPermissionEvaluator::new(Arc::new(evaluator), options))
}

type Init = Vec<(String, String)>;

/// Every entry, checked, before anything loads.
struct Plan {
    beans: BTreeMap<String, (String, TomlLimits, Init)>,
    providers: BTreeMap<String, (String, Limits, Init, PermissionCacheConfig)>,
    policies: BTreeMap<String, (String, TomlLimits, Init)>,
}

impl Plan {
    fn of(config: &CamelConfig, defaults: &TomlLimits) -> Result<Self, CamelWasmError> {
        let beans = config
            .beans
            .iter()
            .map(|(name, bean)| Ok((name.clone(), Self::bean(name, bean, defaults)?)))
            .collect::<Result<_, CamelWasmError>>()?;
        let providers = config
            .security
            .permissions
            .iter()
            .flatten()
            .filter(|(_, provider)| provider.provider == "wasm")
            .map(|(name, provider)| Ok((name.clone(), Self::provider(name, provider, defaults)?)))
            .collect::<Result<_, CamelWasmError>>()?;
        let policies = config
            .security
            .policies
            .iter()
            .flat_map(|policies| &policies.wasm)
            .map(|(name, policy)| Ok((name.clone(), Self::policy(name, policy, defaults)?)))
            .collect::<Result<_, CamelWasmError>>()?;
        Ok(Self { beans, providers, policies })
    }

    fn bean(name: &str, bean: &BeanConfig, defaults: &TomlLimits) -> Result<(String, TomlLimits, Init), CamelWasmError> {
        let limits = defaults.overlay(&bean.limits).map_err(|e| entry_error(format!("bean '{name}'"))(e.into()))?;
        Ok((bean_path(&bean.plugin), limits, init_config(&bean.config)))
    }

    fn provider(
        name: &str,
        provider: &PermissionProviderConfig,
        defaults: &TomlLimits,
    ) -> Result<(String, Limits, Init, PermissionCacheConfig), CamelWasmError> {
        let error = entry_error(format!("permission provider '{name}'"));
        let path = provider.path.clone().ok_or_else(|| {
            error(CamelWasmError::InvalidEntry("missing field `path`: a provider = \"wasm\" entry names its .wasm file".into()))
        })?;
        check_policy_table(&provider.limits, false).map_err(|e| error(e.into()))?;
        let limits = defaults.overlay(&provider.limits).map_err(|e| error(e.into()))?;
        let init = init_config(provider.config.iter().flatten());
        Ok((path, limits.limits, init, provider.cache.clone()))
    }

    fn policy(
        name: &str,
        policy: &WasmSecurityPolicyConfig,
        defaults: &TomlLimits,
    ) -> Result<(String, TomlLimits, Init), CamelWasmError> {
        let error = entry_error(format!("security policy '{name}'"));
        check_policy_table(&policy.limits, true).map_err(|e| error(e.into()))?;
        let limits = defaults.overlay(&policy.limits).map_err(|e| error(e.into()))?;
        Ok((policy.path.clone(), limits, init_config(&policy.config)))
    }
}
