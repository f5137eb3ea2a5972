//! A rust-camel `Camel.toml`, loaded by camel-config 0.64, registered with
//! `register_camel_toml` in a real CamelContext, and run: a WASM bean, a WASM
//! permission provider, a WASM security policy and `wasm:` endpoints from
//! YAML routes, with the guests in `guests/dist`.
#![cfg(feature = "camel-toml")]

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use camel_api::{CamelError, Exchange, Message};
use camel_auth::{PermissionDecision, PermissionRequest};
use camel_bean::BeanRegistry;
use camel_builder::{RouteBuilder, StepAccumulator};
use camel_component_direct::DirectComponent;
use camel_component_mock::MockComponent;
use camel_config::CamelConfig;
use camel_core::CamelContext;
use camel_dsl::SecurityCompileContext;
use camel_wasm::camel::{CamelWasmError, WasmComponent, WasmRegistration, load_camel_toml, register_camel_toml};
use camel_wasm::{ConfigError, WasmError};
use serde_json::json;

#[path = "support/auth.rs"]
mod auth;
use auth::{authenticated, principal};

fn dist() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("guests/dist")
}

/// A directory holding one Camel.toml (and its routes), removed on drop.
struct Project {
    dir: PathBuf,
}

impl Project {
    /// `camel_toml` with `{dist}` replaced by the guests' directory and
    /// `{dir}` by the project's.
    fn new(name: &str, camel_toml: &str, routes: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("camel-wasm-toml-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("routes")).unwrap();
        let text = camel_toml.replace("{dist}", &dist().display().to_string()).replace("{dir}", &dir.display().to_string());
        std::fs::write(dir.join("Camel.toml"), text).unwrap();
        std::fs::write(dir.join("routes/app.yaml"), routes).unwrap();
        Self { dir }
    }

    /// The config as `camel run` loads it (profile `default`).
    fn load(&self) -> Result<CamelConfig, String> {
        let path = self.dir.join("Camel.toml");
        CamelConfig::from_file_with_profile(path.to_str().unwrap(), Some("default")).map_err(|e| e.to_string())
    }
}

impl Drop for Project {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// In the shape of rust-camel's README: profile sections, a bean with its
/// limits, a `provider = "wasm"` permission provider, and the bundle's
/// `[limits]` table in camel-config's `WasmLimitsConfig` keys.
const CAMEL_TOML: &str = r#"
[default]
routes = ["{dir}/routes/*.yaml"]
log_level = "info"

[default.components.wasm]
plugins-dir = "{dist}"
allow-call = "direct:shout"

[default.components.wasm.limits]
timeout-secs = 10
max-concurrent-calls = 4

[default.beans.text]
plugin = "text-utils.wasm"

[default.beans.text.config]
suffix = "?!"

[default.beans.text.limits]
timeout-secs = 5

[default.security.permissions.roles]
provider = "wasm"
path = "role-check.wasm"

[default.security.permissions.roles.config]
role = "admin"

[default.security.permissions.roles.limits]
timeout-secs = 2
max-memory = 10485760
max-concurrent-calls = 2

[default.security.policies.wasm.ops-only]
path = "role-check.wasm"

[default.security.policies.wasm.ops-only.config]
role = "ops"
"#;

const ROUTES: &str = r#"
routes:
  - id: reverse
    from: direct:reverse
    steps:
      - bean:
          name: text
          method: reverse
      - to: mock:reversed
  - id: suffix
    from: direct:suffix
    steps:
      - bean:
          name: text
          method: suffix
  - id: upper
    from: direct:upper
    steps:
      - to: "wasm:upper.wasm?max-concurrent-calls=2"
      - to: mock:uppered
  - id: orders
    from: direct:orders
    security_policy:
      permission:
        policy: roles
        resource:
          literal: /orders
        action:
          literal: read
    steps:
      - to: mock:orders
  - id: ops
    from: direct:ops
    security_policy:
      wasm: ops-only
    steps:
      - to: mock:ops
  - id: forward
    from: direct:forward
    steps:
      - to: wasm:forward.wasm
  - id: shout
    from: direct:shout
    steps:
      - set_body:
          simple: "${body}!"
"#;

/// A started context with everything in `project` registered.
struct App {
    ctx: CamelContext,
    mock: MockComponent,
    registration: WasmRegistration,
}

impl App {
    async fn start(project: &Project) -> Self {
        let config = project.load().expect("Camel.toml loads");
        let beans = Arc::new(Mutex::new(BeanRegistry::new()));
        let mut ctx = CamelContext::builder().beans(beans.clone()).build().await.unwrap();
        // The WASM parts first, the other components after: the order does not matter.
        let registration = register_camel_toml(&config, &project.dir, &mut ctx, &beans).await.expect("registers");
        ctx.register_component(DirectComponent::new());
        let mock = MockComponent::new();
        ctx.register_component(mock.clone());
        let security = SecurityCompileContext::default()
            .with_evaluator_registry(registration.permission_evaluators())
            .with_security_policy_registry(registration.security_policies());
        let routes =
            camel_config::discover_routes_with_threshold_and_security(&config.routes, config.stream_caching.threshold, security)
                .expect("routes compile");
        assert_eq!(routes.len(), 7);
        for route in routes {
            ctx.add_route_definition(route).await.unwrap();
        }
        ctx.start().await.unwrap();
        Self { ctx, mock, registration }
    }

    fn wasm(&self) -> &WasmComponent {
        self.registration.wasm_component().expect("registered")
    }

    async fn send(&self, uri: &str, exchange: Exchange) -> Result<Exchange, CamelWasmError> {
        self.wasm().camel_endpoints().expect("bridged").send(uri, exchange).await
    }

    async fn received(&self, mock: &str) -> Vec<Exchange> {
        match self.mock.get_endpoint(mock) {
            Some(endpoint) => endpoint.get_received_exchanges().await,
            None => Vec::new(),
        }
    }
}

fn text(body: &str) -> Exchange {
    Exchange::new_in_out(Message::new(body))
}

fn permission(subject: &str, roles: &[&str]) -> PermissionRequest {
    PermissionRequest {
        principal: principal(subject, roles),
        resource: "/orders".into(),
        action: "read".into(),
        requested_scopes: vec![],
        context: json!({}),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bean_step_from_camel_toml_runs_with_its_config() {
    let project = Project::new("bean", CAMEL_TOML, ROUTES);
    let mut app = App::start(&project).await;
    app.send("direct:reverse", text("abc")).await.unwrap();
    assert_eq!(app.received("reversed").await[0].input.body.as_text(), Some("cba"));
    let reply = app.send("direct:suffix", text("abc")).await.unwrap();
    assert_eq!(reply.input.body.as_text(), Some("abc?!"), "[default.beans.text.config] reached the guest's init");
    assert_eq!(app.registration.bean("text").unwrap().bean().methods().len(), 5);
    app.ctx.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_wasm_permission_provider_grants_alice_and_denies_bob() {
    let project = Project::new("provider", CAMEL_TOML, ROUTES);
    let mut app = App::start(&project).await;
    let roles = app.registration.permission_evaluators().get("roles").expect("registered by name");
    assert_eq!(roles.evaluate(permission("alice", &["admin"])).await.unwrap(), PermissionDecision::Granted);
    assert_eq!(
        roles.evaluate(permission("bob", &["ops"])).await.unwrap(),
        PermissionDecision::Denied { reason: "role-check: requires role 'admin'".into() }
    );

    // The same provider gating a YAML route (`security_policy: { permission: { policy: roles } }`).
    app.send("direct:orders", authenticated("order 1", principal("alice", &["admin"])).await).await.unwrap();
    let err = app.send("direct:orders", authenticated("order 2", principal("bob", &["ops"])).await).await.unwrap_err();
    assert!(
        matches!(&err, CamelWasmError::Endpoint { source, .. } if matches!(**source, CamelError::Unauthorized(_))),
        "{err:?}"
    );
    let orders = app.received("orders").await;
    assert_eq!(orders.len(), 1);
    assert_eq!(orders[0].input.body.as_text(), Some("order 1"));
    app.ctx.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wasm_security_policy_from_camel_toml_gets_its_config() {
    let project = Project::new("policy", CAMEL_TOML, ROUTES);
    let mut app = App::start(&project).await;
    app.send("direct:ops", authenticated("deploy", principal("bob", &["ops"])).await).await.unwrap();
    let err = app.send("direct:ops", authenticated("deploy", principal("alice", &["admin"])).await).await.unwrap_err();
    assert!(err.to_string().contains("role-check: requires role 'ops'"), "{err}");
    assert_eq!(app.received("ops").await.len(), 1);
    assert!(app.registration.security_policy("ops-only").is_some());
    app.ctx.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wasm_processor_runs_over_the_bundle_defaults() {
    let project = Project::new("processor", CAMEL_TOML, ROUTES);
    let mut app = App::start(&project).await;
    let reply = app.send("direct:upper", text("hello")).await.unwrap();
    assert_eq!(reply.input.body.as_text(), Some("HELLO"));
    assert_eq!(app.received("uppered").await[0].input.body.as_text(), Some("HELLO"));
    let defaults = app.wasm().default_limits();
    assert_eq!((defaults.timeout, defaults.max_concurrent), (Duration::from_secs(10), 4), "[components.wasm.limits]");
    assert_eq!(app.registration.bundle().plugins_dir(), project.dir.join(dist()));

    // The bundle's `allow-call` is every guest's default allowlist.
    let mut exchange = text("hi");
    exchange.input.set_header("forward-to", "direct:shout");
    assert_eq!(app.send("direct:forward", exchange).await.unwrap().input.body.as_text(), Some("hi!"));
    let mut exchange = text("hi");
    exchange.input.set_header("forward-to", "mock:secrets");
    let err = app.send("direct:forward", exchange).await.unwrap_err().to_string();
    assert!(err.contains("call to 'mock:secrets' denied"), "{err}");
    app.ctx.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bundle_timeout_reaches_wasm_endpoints() {
    let toml = "[default.components.wasm]\nplugins-dir = \"{dist}\"\n[default.components.wasm.limits]\ntimeout-secs = 1\n";
    let project = Project::new("timeout", toml, "routes: []\n");
    let config = project.load().unwrap();
    let beans = Arc::new(Mutex::new(BeanRegistry::new()));
    let mut ctx = CamelContext::builder().beans(beans.clone()).build().await.unwrap();
    ctx.register_component(DirectComponent::new());
    let registration = register_camel_toml(&config, &project.dir, &mut ctx, &beans).await.unwrap();
    let route = RouteBuilder::from("direct:spin").route_id("spin").to("wasm:spin.wasm").build().unwrap();
    ctx.add_route_definition(route).await.unwrap();
    ctx.start().await.unwrap();
    let endpoints = registration.wasm_component().unwrap().camel_endpoints().unwrap();
    let err = endpoints.send("direct:spin", text("x")).await.unwrap_err().to_string();
    assert!(err.contains("plugin 'spin.wasm' timed out after 1s"), "{err}");
    ctx.stop().await.unwrap();
}

/// Load first, build the context with the beans, register the component
/// last; rust-camel's bare plugin names (`plugin = "text-utils"`) work too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_two_step_api_loads_before_the_context_exists() {
    let toml = r#"
[default.components.wasm]
plugins_dir = "{dist}"

[default.beans.text]
plugin = "text-utils"

[default.security.permissions.uma]
provider = "keycloak-uma"
"#;
    let project = Project::new("two-step", toml, "routes: []\n");
    let config = project.load().unwrap();
    let mut registration = WasmRegistration::load(&config, &project.dir).await.unwrap();
    assert!(registration.permission_evaluators().get("uma").is_none(), "not a wasm provider: left alone");
    let mut ctx = CamelContext::builder().beans(registration.beans()).build().await.unwrap();
    ctx.register_component(DirectComponent::new());
    let route = RouteBuilder::from("direct:r").route_id("r").bean("text", "upper").build().unwrap();
    registration.register(&mut ctx);
    ctx.add_route_definition(route).await.unwrap();
    ctx.start().await.unwrap();
    let endpoints = registration.wasm_component().unwrap().camel_endpoints().unwrap();
    assert_eq!(endpoints.send("direct:r", text("abc")).await.unwrap().input.body.as_text(), Some("ABC"));
    ctx.stop().await.unwrap();
}

/// `WasmBundle` as rust-camel's CLI uses a bundle: `from_toml` on the
/// `[components.wasm]` table, then `register_all`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_component_bundle_from_toml_registers_the_wasm_scheme() {
    use camel_component_api::ComponentBundle;
    use camel_wasm::camel::WasmBundle;

    let toml = "[default.components.wasm]\nplugins-dir = \"{dist}\"\n[default.components.wasm.limits]\nmax-memory = 10485760\n";
    let project = Project::new("bundle", toml, "routes: []\n");
    let config = project.load().unwrap();
    let mut ctx = CamelContext::builder().build().await.unwrap();
    ctx.register_component(DirectComponent::new());
    let table = config.components.raw[WasmBundle::config_key()].clone();
    let bundle = WasmBundle::from_toml(table).unwrap().root(&project.dir).context(&ctx);
    assert_eq!(bundle.defaults().limits.max_memory, 10 * 1024 * 1024);
    bundle.register_all(&mut ctx);
    let route = RouteBuilder::from("direct:u").route_id("u").to("wasm:upper.wasm").build().unwrap();
    ctx.add_route_definition(route).await.unwrap();
    ctx.start().await.unwrap();
    let endpoints = camel_wasm::camel::CamelEndpoints::new(&ctx);
    assert_eq!(endpoints.send("direct:u", text("abc")).await.unwrap().input.body.as_text(), Some("ABC"));
    ctx.stop().await.unwrap();
}

/// The bean block of [`CAMEL_TOML`] with `limits` replaced.
fn with_bean_limits(limits: &str) -> String {
    CAMEL_TOML.replace("[default.beans.text.limits]\ntimeout-secs = 5", &format!("[default.beans.text.limits]\n{limits}"))
}

async fn load_err(name: &str, toml: &str) -> CamelWasmError {
    let project = Project::new(name, toml, ROUTES);
    let config = project.load().expect("camel-config accepts it");
    WasmRegistration::load(&config, &project.dir).await.expect_err("camel-wasm refuses it")
}

#[tokio::test]
async fn an_unknown_limits_key_is_refused_naming_it() {
    // camel-config's WasmLimitsConfig has deny_unknown_fields: the file does not load.
    let project = Project::new("unknown-bean", &with_bean_limits("timeout-secs = 5\nfuel = 1000"), ROUTES);
    let err = project.load().unwrap_err();
    assert!(err.contains("unknown field `fuel`"), "{err}");
    // The bundle's table is handed over raw: camel-wasm refuses the key.
    let toml = CAMEL_TOML.replace("max-concurrent-calls = 4\n", "max-concurrent-calls = 4\nfuel = 1000\n");
    let err = load_err("unknown-bundle", &toml).await.to_string();
    assert!(err.starts_with("Camel.toml [components.wasm]: unknown field `fuel`"), "{err}");
}

#[tokio::test]
async fn a_bad_value_names_the_bean_and_the_field() {
    let err = load_err("zero", &with_bean_limits("max-concurrent-calls = 0")).await;
    assert_eq!(
        err.to_string(),
        "Camel.toml bean 'text': invalid value '0' for parameter 'max-concurrent-calls': must be greater than zero"
    );
    let CamelWasmError::CamelToml { entry, source } = &err else { panic!("{err:?}") };
    assert_eq!(entry, "bean 'text'");
    assert!(
        matches!(&**source, CamelWasmError::Config(ConfigError::InvalidValue { name, .. }) if name == "max-concurrent-calls")
    );
    assert!(matches!(CamelError::from(err), CamelError::Config(_)));

    let err = load_err("zero-timeout", &with_bean_limits("timeout-secs = 0")).await.to_string();
    assert!(err.starts_with("Camel.toml bean 'text': invalid value '0' for parameter 'timeout-secs'"), "{err}");
    let toml = CAMEL_TOML.replace("max-memory = 10485760", "max-memory = 10485760\nmax-stream-bytes = 1024");
    let err = load_err("provider-stream", &toml).await.to_string();
    assert!(
        err.starts_with("Camel.toml permission provider 'roles': invalid value '1024' for parameter 'max-stream-bytes'"),
        "{err}"
    );
    let toml = CAMEL_TOML.replace("max-memory = 10485760", "max-memory = 10485760\nallow-call-schemes = \"log\"");
    let err = load_err("provider-calls", &toml).await.to_string();
    assert!(err.contains("permission provider 'roles': invalid value 'log' for parameter 'allow-call-schemes'"), "{err}");
}

#[tokio::test]
async fn a_missing_plugin_names_the_bean_and_the_path() {
    let toml = CAMEL_TOML.replace("plugin = \"text-utils.wasm\"", "plugin = \"missing.wasm\"");
    let err = load_err("missing", &toml).await;
    let message = err.to_string();
    assert!(message.starts_with("Camel.toml bean 'text': plugin 'missing.wasm' not found (looked at "), "{message}");
    let CamelWasmError::CamelToml { source, .. } = &err else { panic!("{err:?}") };
    assert!(matches!(&**source, CamelWasmError::Wasm(WasmError::Load(_))), "{source:?}");

    let toml = CAMEL_TOML.replace(
        "path = \"role-check.wasm\"\n\n[default.security.permissions.roles.config]",
        "\n[default.security.permissions.roles.config]",
    );
    let err = load_err("no-path", &toml).await.to_string();
    assert!(err.starts_with("Camel.toml permission provider 'roles': missing field `path`"), "{err}");
    let toml = CAMEL_TOML.replace(
        "path = \"role-check.wasm\"\n\n[default.security.policies",
        "path = \"../role-check.wasm\"\n\n[default.security.policies",
    );
    let err = load_err("escape", &toml).await.to_string();
    assert!(err.contains("'../role-check.wasm' is not allowed"), "{err}");
}

/// camel-config 0.64 keys permission providers as `[security.permissions.<name>]`;
/// the `providers.<name>` spelling some of rust-camel's docs use does not load.
#[tokio::test]
/// rust-camel's README writes providers as `[security.permissions.providers.<name>]`,
/// which camel-config itself refuses; `load_camel_toml` accepts it too.
async fn the_readme_provider_shape_loads_through_load_camel_toml() {
    let readme = CAMEL_TOML.replace("[default.security.permissions.roles", "[default.security.permissions.providers.roles");
    let project = Project::new("readme-providers", &readme, ROUTES);
    assert!(project.load().is_err(), "camel-config alone refuses this shape");
    let config = load_camel_toml(project.dir.join("Camel.toml"), Some("default")).expect("loads");
    let beans = Arc::new(Mutex::new(BeanRegistry::new()));
    let mut ctx = CamelContext::builder().beans(beans.clone()).build().await.unwrap();
    let registration = register_camel_toml(&config, &project.dir, &mut ctx, &beans).await.expect("registers");
    let roles = registration.permission_evaluators().get("roles").expect("registered by name");
    assert_eq!(roles.evaluate(permission("alice", &["admin"])).await.unwrap(), PermissionDecision::Granted);
    assert!(matches!(roles.evaluate(permission("bob", &["ops"])).await.unwrap(), PermissionDecision::Denied { .. }));
    let leftovers: Vec<_> = std::fs::read_dir(&project.dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with(".camel-wasm-"))
        .collect();
    assert!(leftovers.is_empty(), "the rewritten copy is removed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn permission_providers_are_keyed_by_name_directly() {
    let toml = "[default.security.permissions.providers.roles]\nprovider = \"wasm\"\npath = \"role-check.wasm\"\n";
    let project = Project::new("providers-shape", toml, ROUTES);
    let err = project.load().unwrap_err();
    assert!(err.contains("unknown field `roles`") && err.contains("security.permissions.providers"), "{err}");
}
