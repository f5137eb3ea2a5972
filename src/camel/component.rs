//! The `wasm` component: `wasm:path?knobs` URIs become [`WasmEndpoint`]s.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use camel_api::component_metadata::{ComponentCapabilities, ComponentMetadata, OptionKind, UriOption};
use camel_api::{CamelError, OpaqueErrorSource};
use camel_component_api::{Component, ComponentContext, Endpoint};
use camel_core::CamelContext;

use super::calls::{CamelEndpoints, ContextParts};
use super::endpoint::WasmEndpoint;
use super::health::{LoadState, WasmHealthCheck};
use super::mapping::ExchangeMapping;
use super::source::WasmSourceEndpoint;
use crate::knobs::{self, Kind};
use crate::{
    EndpointUri, Limits, LoadError, ParameterKind, Plugin, Runtime, SOURCE_PARAMETERS, Source, SourceOptions, WasmError,
};

/// The rust-camel component for the `wasm` scheme.
///
/// `wasm:upper.wasm?timeout=5&max-memory=10485760` loads `upper.wasm`
/// (relative to the [`Runtime`]'s base directory) with those [`Limits`] (over
/// [`WasmComponentBuilder::default_limits`], [`Limits::default`] unless set); an
/// unknown parameter or a bad value fails endpoint creation with an error
/// naming both. Cheap to clone; clones share the runtime and health checks.
#[derive(Clone)]
pub struct WasmComponent {
    inner: Arc<Inner>,
}

struct Inner {
    runtime: Runtime,
    defaults: Limits,
    source_defaults: SourceOptions,
    calls: Option<CamelEndpoints>,
    health: Mutex<HashMap<String, WasmHealthCheck>>,
}

impl std::fmt::Debug for WasmComponent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WasmComponent")
            .field("runtime", &self.inner.runtime)
            .field("calls", &self.inner.calls)
            .finish_non_exhaustive()
    }
}

/// Builds a [`WasmComponent`].
#[derive(Debug)]
pub struct WasmComponentBuilder {
    runtime: Runtime,
    mapping: ExchangeMapping,
    defaults: Limits,
    source_defaults: SourceOptions,
    context: Option<ContextParts>,
}

impl WasmComponentBuilder {
    /// Routes guests' `camel-call` / `camel-poll` to `context`'s components.
    pub fn context(mut self, context: &CamelContext) -> Self {
        self.context = Some(ContextParts::of(context));
        self
    }

    /// The limits a `wasm:` URI starts from (default [`Limits::default`]);
    /// the URI's parameters override them one by one. Their `max-stream-bytes`
    /// (with `max-memory`) also bounds the stream replies of guests' calls.
    pub fn default_limits(mut self, limits: Limits) -> Self {
        self.mapping = ExchangeMapping::for_limits(&limits);
        self.defaults = limits;
        self
    }

    /// The source parameters a source's `wasm:` URI starts from (authentication,
    /// connection limits, TLS; default [`SourceOptions::default`]).
    pub fn default_source(mut self, options: SourceOptions) -> Self {
        self.source_defaults = options;
        self
    }

    /// Like [`context`](Self::context), from parts captured earlier.
    #[cfg(feature = "camel-toml")]
    pub(crate) fn context_parts(mut self, parts: ContextParts) -> Self {
        self.context = Some(parts);
        self
    }

    /// The endpoints' default `max-stream-bytes`: the most bytes one stream
    /// body may carry to or from a guest, and the largest stream reply to a
    /// guest's call read into memory.
    pub fn stream_limit(mut self, bytes: usize) -> Self {
        self.mapping = ExchangeMapping::new(bytes);
        self.defaults.max_stream_bytes = bytes as u64;
        self
    }

    /// The component.
    pub fn build(self) -> WasmComponent {
        let calls = self.context.map(|parts| CamelEndpoints::from_parts(parts, self.mapping));
        if let Some(calls) = &calls {
            calls.bridge(self.runtime.endpoints());
        }
        WasmComponent {
            inner: Arc::new(Inner {
                runtime: self.runtime,
                defaults: self.defaults,
                source_defaults: self.source_defaults,
                calls,
                health: Mutex::default(),
            }),
        }
    }
}

impl WasmComponent {
    /// A component on `runtime`; guests reach only the endpoints registered on `runtime.endpoints()`.
    pub fn new(runtime: Runtime) -> Self {
        Self::builder(runtime).build()
    }

    /// Starts configuring a component on `runtime`.
    pub fn builder(runtime: Runtime) -> WasmComponentBuilder {
        WasmComponentBuilder {
            runtime,
            mapping: ExchangeMapping::default(),
            defaults: Limits::default(),
            source_defaults: SourceOptions::default(),
            context: None,
        }
    }

    /// Registers a component on `runtime` in `context`, guests' calls routed to
    /// `context`'s components, and returns a handle to it.
    pub fn register(context: &mut CamelContext, runtime: Runtime) -> Self {
        let component = Self::builder(runtime).context(context).build();
        context.register_component(component.clone());
        component
    }

    /// The runtime endpoints are loaded on.
    pub fn runtime(&self) -> &Runtime {
        &self.inner.runtime
    }

    /// The bridge to the CamelContext's endpoints, when one was given.
    pub fn camel_endpoints(&self) -> Option<&CamelEndpoints> {
        self.inner.calls.as_ref()
    }

    /// The health check of the endpoint for module `path` (as written in the URI), once one was created.
    pub fn health_check(&self, path: &str) -> Option<WasmHealthCheck> {
        self.inner.health.lock().unwrap_or_else(|e| e.into_inner()).get(path).cloned()
    }

    /// The limits URIs start from.
    pub fn default_limits(&self) -> &Limits {
        &self.inner.defaults
    }

    /// `uri` parsed over the defaults (its parameters override them one by
    /// one), and its source parameters (`bind`, `path`, ...).
    pub(crate) fn endpoint_uri(&self, uri: &str) -> Result<(EndpointUri, SourceOptions), crate::ConfigError> {
        SourceOptions::parse_uri_over(uri, self.inner.defaults.clone(), self.inner.source_defaults.clone())
    }

    fn health_for(&self, path: &str) -> WasmHealthCheck {
        let mut health = self.inner.health.lock().unwrap_or_else(|e| e.into_inner());
        health.entry(path.to_string()).or_insert_with(|| WasmHealthCheck::new(format!("wasm:{path}"), LoadState::Loading)).clone()
    }
}

fn uri_options(defaults: &Limits) -> Vec<UriOption> {
    let mut options = limit_options(defaults);
    // A source's (from: wasm:...) parameters, from their one table.
    options.extend(SOURCE_PARAMETERS.iter().map(|p| {
        let kind = match p.kind {
            ParameterKind::Text => OptionKind::String,
            ParameterKind::Bool => OptionKind::Bool,
            ParameterKind::Int => OptionKind::Int,
            ParameterKind::Seconds => OptionKind::Float,
        };
        let option = UriOption::new(p.name, &format!("source: {}", p.help), kind);
        match p.default {
            Some(default) => option.with_default(default),
            None => option,
        }
    }));
    options
}

/// One option per knob of [`knobs::KNOBS`], with `defaults`' value as its default.
fn limit_options(defaults: &Limits) -> Vec<UriOption> {
    knobs::KNOBS
        .iter()
        .map(|knob| {
            let kind = match knob.kind {
                Kind::Seconds => OptionKind::Float,
                Kind::Bytes { .. } | Kind::Count { .. } => OptionKind::Int,
                Kind::Choice(words) => OptionKind::Enum(words.iter().map(|w| w.to_string()).collect()),
                Kind::Text { .. } => OptionKind::String,
            };
            let option = knob.aliases.iter().fold(UriOption::new(knob.name, knob.doc, kind), |o, a| o.with_alias(a));
            match defaults.get(knob.name) {
                Some(default) => option.with_default(&default),
                None => option,
            }
        })
        .collect()
}

impl Component for WasmComponent {
    fn scheme(&self) -> &str {
        "wasm"
    }

    fn metadata(&self) -> ComponentMetadata {
        let mut metadata = ComponentMetadata::minimal("wasm")
            .with_description(
                "Runs a WebAssembly component: a camel:plugin guest as a message processor (to:), \
                 a source guest as a route's HTTP consumer (from:)",
            )
            .with_capabilities(ComponentCapabilities { supports_producer: true, supports_consumer: true, ..Default::default() })
            .with_uri_options(uri_options(&self.inner.defaults));
        metadata.version = env!("CARGO_PKG_VERSION").to_string();
        metadata.uri_syntax = "wasm:path?options".to_string();
        metadata
    }

    fn create_endpoint(&self, uri: &str, ctx: &dyn ComponentContext) -> Result<Box<dyn Endpoint>, CamelError> {
        let (EndpointUri { path, limits, .. }, options) =
            self.endpoint_uri(uri).map_err(|e| CamelError::InvalidUri(e.to_string()))?;
        if let Some(calls) = &self.inner.calls {
            calls.try_bridge(self.inner.runtime.endpoints());
        }
        let health = self.health_for(&path);
        ctx.register_current_route_health_check(Arc::new(health.clone()));
        let source = |health: WasmHealthCheck| -> Box<dyn Endpoint> {
            Box::new(WasmSourceEndpoint::new(
                uri,
                self.inner.runtime.clone(),
                path.clone(),
                limits.clone(),
                options.clone(),
                health,
            ))
        };
        if names_source_parameter(uri) {
            // A source: loaded, configured and bound when a route starts from it.
            return Ok(source(health));
        }
        let mapping = ExchangeMapping::for_limits(&limits);
        match Plugin::load(&self.inner.runtime, &path, limits.clone()) {
            Ok(plugin) => {
                health.set_state(LoadState::Loaded);
                health.follow(&plugin);
                Ok(Box::new(WasmEndpoint::new(uri, plugin, mapping, health)))
            }
            Err(WasmError::Load(LoadError::WorldMismatch { .. }))
                if Source::load(&self.inner.runtime, &path, limits.clone(), options.clone()).is_ok() =>
            {
                // Not a plugin but a source (with the guest's own bind and path).
                Ok(source(health))
            }
            Err(err) => {
                let cause = err.to_string();
                health.set_state(LoadState::Failed { cause: cause.clone() });
                if let Some(route_id) = ctx.route_id() {
                    ctx.health().force_unhealthy_for_route(route_id, health.result().name.as_str(), &cause);
                }
                Err(CamelError::EndpointCreationFailedWithSource(cause, OpaqueErrorSource::new(Arc::new(err))))
            }
        }
    }
}

/// Whether `uri` sets a source parameter (`bind`, `path`, ...), which makes it a source's URI.
fn names_source_parameter(uri: &str) -> bool {
    let query = uri.split_once('?').map_or("", |(_, query)| query);
    query.split('&').any(|pair| SourceOptions::is_parameter(pair.split_once('=').map_or(pair, |(name, _)| name)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_knob_is_a_uri_option_with_its_default() {
        let defaults = Limits { max_concurrent: 3, ..Limits::default() };
        let options = uri_options(&defaults);
        for knob in knobs::KNOBS {
            let option = options.iter().find(|o| o.name == knob.name).unwrap_or_else(|| panic!("no uri option {}", knob.name));
            assert_eq!(option.default_value, defaults.get(knob.name), "{}", knob.name);
            assert_eq!(option.aliases, knob.aliases, "{}", knob.name);
        }
        let concurrent = options.iter().find(|o| o.name == "max-concurrent").unwrap();
        assert_eq!(concurrent.default_value.as_deref(), Some("3"));
        assert!(options.iter().any(|o| o.name == "unhealthy-after"));
    }
}
