//! Sources in routes: `from: wasm:hook.wasm?bind=127.0.0.1:8080&path=/hook`.
//!
//! A `wasm:` URI names a source when it carries a source parameter (`bind`,
//! `path`, `allow-public-bind`, `max-body-bytes`, `request-timeout`), or when
//! its guest fits the `source` world rather than the `plugin` world. Its
//! endpoint is a [`WasmSourceEndpoint`]; the route's consumer a
//! [`WasmSourceConsumer`], which maps the route's lifecycle onto the source's:
//!
//! - authentication: the URI's `auth*` parameters, or the route's security
//!   context: a non-Public plan authenticates each request at the edge through
//!   its providers (fail-closed: no providers, no start). Neither, and no
//!   `auth=none`: the route does not start. The edge's principal reaches the
//!   route as camel-auth's typed carrier and the `camel.auth.*` properties.
//! - route start: loads the guest (a compile or world error fails the start),
//!   runs its `configure`, checks its plan against the URI, binds the listener
//!   and runs the guest. Any of these failing fails the route's start with the
//!   source's message (`cannot listen on 127.0.0.1:8080: Address in use`, the
//!   bind mismatch, the plan error). The consumer starts in
//!   [`ConsumerStartupMode::Explicit`]: the route is started once the listener is bound.
//! - each exchange the guest submits is mapped to a camel exchange
//!   ([`ExchangeMapping`]; a stream body stays a stream) and sent into the
//!   route: an in-only one is fired into it (the submit waits until the route
//!   took it; the client already has its `202`), an in-out one waits for the
//!   route's result, mapped back, which becomes the HTTP response (status from
//!   header `camel.http.response-code`). A route error (or a result carrying
//!   one) fails the submit: the client gets `500`.
//! - route stop: [`RunningSource::stop`]: the listener closes, unanswered
//!   requests get `503`. A later start loads and binds again.
//!
//! The endpoint's [`WasmHealthCheck`] reports the source: healthy while it
//! runs, unhealthy with the guest's error for a while after its `run` failed.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use camel_api::security_policy::AccessMode;
use camel_api::{
    Body as CamelBody, BoxProcessor, CamelError, Exchange as CamelExchange, Message as CamelMessage, ProducerContext,
};
use camel_component_api::{
    ConcurrencyModel, Consumer, ConsumerContext, ConsumerStartupMode, Endpoint, RuntimeObservability, SecurityContext,
};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::error::CamelWasmError;
use super::health::{LoadState, WasmHealthCheck};
use super::mapping::ExchangeMapping;
use crate::{Body, BoxError, Exchange, Limits, Pattern, RunningSource, Runtime, Source, SourceOptions, WasmError};

/// How often a running source is looked at for a failed guest.
const MONITOR_PERIOD: Duration = Duration::from_millis(100);

/// What a source endpoint is made of: the guest and how it runs.
#[derive(Clone)]
struct Spec {
    uri: String,
    runtime: Runtime,
    path: String,
    limits: Limits,
    options: SourceOptions,
    health: WasmHealthCheck,
}

/// The endpoint of a `wasm:` URI naming a source: a route starts from it (`from:`); it is no step.
pub struct WasmSourceEndpoint {
    spec: Spec,
}

impl std::fmt::Debug for WasmSourceEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WasmSourceEndpoint")
            .field("uri", &self.spec.uri)
            .field("options", &self.spec.options)
            .finish_non_exhaustive()
    }
}

impl WasmSourceEndpoint {
    /// An endpoint for `uri`: the source at `path` (relative to `runtime`'s
    /// base directory) with `limits` and `options`, reporting to `health`.
    /// Nothing is loaded until a route starts from it.
    pub fn new(
        uri: impl Into<String>,
        runtime: Runtime,
        path: impl Into<String>,
        limits: Limits,
        options: SourceOptions,
        health: WasmHealthCheck,
    ) -> Self {
        Self { spec: Spec { uri: uri.into(), runtime, path: path.into(), limits, options, health } }
    }

    /// The source's options (where it listens, request bounds).
    pub fn options(&self) -> &SourceOptions {
        &self.spec.options
    }

    /// This endpoint's health check.
    pub fn health_check(&self) -> &WasmHealthCheck {
        &self.spec.health
    }
}

impl Endpoint for WasmSourceEndpoint {
    fn uri(&self) -> &str {
        &self.spec.uri
    }

    fn create_consumer(&self, _rt: Arc<dyn RuntimeObservability>) -> Result<Box<dyn Consumer>, CamelError> {
        Ok(Box::new(WasmSourceConsumer::new(self.spec.clone())))
    }

    fn create_producer(&self, _rt: Arc<dyn RuntimeObservability>, _ctx: &ProducerContext) -> Result<BoxProcessor, CamelError> {
        Err(CamelError::EndpointCreationFailed(format!(
            "'{}' is a source: a route can start from it (from:), it cannot be a step (to:)",
            self.spec.uri
        )))
    }
}

/// The consumer of a route that starts from a source: runs the source while the route runs.
pub struct WasmSourceConsumer {
    spec: Spec,
    /// The route's security, as camel-core delivers it before `start`.
    security: Option<SecurityContext>,
    running: Arc<Mutex<Option<RunningSource>>>,
    monitor: Option<JoinHandle<Result<(), CamelError>>>,
    stop_monitor: CancellationToken,
}

impl std::fmt::Debug for WasmSourceConsumer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WasmSourceConsumer").field("uri", &self.spec.uri).finish_non_exhaustive()
    }
}

impl WasmSourceConsumer {
    fn new(spec: Spec) -> Self {
        Self { spec, security: None, running: Arc::default(), monitor: None, stop_monitor: CancellationToken::new() }
    }

    /// The source's options with the route's authentication: a non-Public
    /// plan authenticates through its providers, and without providers the
    /// route does not start (fail-closed). A Public plan is camel-core's
    /// default for any route, so it is no opt-out: that takes `auth=none`.
    fn options(&self) -> Result<SourceOptions, String> {
        let mut options = self.spec.options.clone();
        let Some(plan) = self.security.as_ref().and_then(|s| s.plan.clone()) else { return Ok(options) };
        if matches!(plan.access_mode, AccessMode::Public) {
            return Ok(options);
        }
        let Some(providers) = self.security.as_ref().and_then(|s| s.providers.clone()) else {
            return Err(format!(
                "source '{}': the route requires authentication, but no auth provider is wired to it (configure the \
                 route's security providers, or auth=jwt / auth=introspection on the URI)",
                self.spec.uri
            ));
        };
        if options.auth.mode.is_none() {
            options.auth.kernel = Some(crate::KernelAuth::new(plan, providers));
        }
        Ok(options)
    }

    /// Loads the source off the async workers (compiling may take a while).
    async fn load(&self) -> Result<Source, CamelError> {
        let options = self.options().map_err(CamelError::RouteError)?;
        let Spec { runtime, path, limits, .. } = self.spec.clone();
        let loaded = match tokio::task::spawn_blocking(move || Source::load(&runtime, &path, limits, options)).await {
            Ok(loaded) => loaded,
            Err(join) => Err(WasmError::Runtime { plugin: self.spec.path.clone(), message: format!("loading failed: {join}") }),
        };
        loaded.map_err(|e| CamelError::from(CamelWasmError::Wasm(e)))
    }

    async fn start_source(&mut self, ctx: &ConsumerContext) -> Result<RunningSource, CamelError> {
        let source = self.load().await?;
        let submit = RouteSubmit {
            ctx: ctx.clone(),
            mapping: ExchangeMapping::for_limits(&self.spec.limits),
            route_id: Arc::from(ctx.route_id()),
        };
        source.start(Vec::new(), submit).await.map_err(|e| CamelWasmError::Source(e).into())
    }
}

#[async_trait::async_trait]
impl Consumer for WasmSourceConsumer {
    async fn start(&mut self, ctx: ConsumerContext) -> Result<(), CamelError> {
        if self.running.lock().unwrap_or_else(|e| e.into_inner()).is_some() {
            return Err(CamelError::RouteError(format!("source '{}' is already started", self.spec.uri)));
        }
        let health = self.spec.health.clone();
        let running = match self.start_source(&ctx).await {
            Ok(running) => running,
            Err(err) => {
                health.set_state(LoadState::Failed { cause: err.to_string() });
                return Err(err);
            }
        };
        let addr = running.local_addr();
        tracing::info!(uri = %self.spec.uri, route = ctx.route_id(), %addr, "wasm source listening");
        health.source_started(addr);
        *self.running.lock().unwrap_or_else(|e| e.into_inner()) = Some(running);
        self.stop_monitor = ctx.cancel_token().child_token();
        self.monitor = Some(tokio::spawn(monitor(self.running.clone(), health, self.stop_monitor.clone())));
        ctx.mark_ready();
        Ok(())
    }

    async fn stop(&mut self) -> Result<(), CamelError> {
        self.stop_monitor.cancel();
        if let Some(monitor) = self.monitor.take() {
            monitor.abort();
        }
        let running = self.running.lock().unwrap_or_else(|e| e.into_inner()).take();
        let Some(running) = running else { return Ok(()) };
        let stopped = running.stop().await;
        self.spec.health.source_stopped();
        tracing::info!(uri = %self.spec.uri, "wasm source stopped");
        stopped.map_err(|e| CamelWasmError::Source(e).into())
    }

    /// Keeps the route's security: [`start`](Consumer::start) authenticates at the edge with it.
    fn set_security_context(&mut self, ctx: SecurityContext) {
        self.security = Some(ctx);
    }

    /// Exchanges run through the route concurrently, up to the endpoint's `max-concurrent`
    /// (the source lets no more into the route at once).
    fn concurrency_model(&self) -> ConcurrencyModel {
        ConcurrencyModel::Concurrent { max: Some(self.spec.limits.max_concurrent.max(1)) }
    }

    /// The route is started once the listener is bound; a start error is the route's start error.
    fn startup_mode(&self) -> ConsumerStartupMode {
        ConsumerStartupMode::Explicit
    }

    /// Watches the running source for a failing guest until the route stops.
    fn background_task_handle(&mut self) -> Option<JoinHandle<Result<(), CamelError>>> {
        self.monitor.take()
    }
}

/// Records each new failure of the running source's guest in `health`; ends
/// only when `stop` is cancelled (its end would otherwise stop the route).
async fn monitor(
    running: Arc<Mutex<Option<RunningSource>>>,
    health: WasmHealthCheck,
    stop: CancellationToken,
) -> Result<(), CamelError> {
    let mut seen: (u64, Option<String>) = (0, None);
    loop {
        tokio::select! {
            () = stop.cancelled() => return Ok(()),
            () = tokio::time::sleep(MONITOR_PERIOD) => {}
        }
        let now = running.lock().unwrap_or_else(|e| e.into_inner()).as_ref().map(|r| (r.restarts(), r.last_error()));
        let Some(now) = now else { continue };
        if now != seen {
            if let Some(error) = &now.1 {
                health.source_failed(now.0, error.clone());
            }
            seen = now;
        }
    }
}

/// The source's submit service: each exchange into the route through the consumer context.
#[derive(Clone)]
struct RouteSubmit {
    ctx: ConsumerContext,
    mapping: ExchangeMapping,
    route_id: Arc<str>,
}

impl RouteSubmit {
    async fn submit(self, exchange: Exchange) -> Result<Exchange, BoxError> {
        let in_out = exchange.pattern == Pattern::InOut;
        let correlation_id = exchange.correlation_id.clone();
        let mut camel = CamelExchange::new(CamelMessage::new(CamelBody::Empty));
        self.mapping.apply(&mut camel, exchange);
        // The principal the edge minted, as the typed carrier the route's policies and dispatch check read.
        if let Some(principal) = crate::edge_principal() {
            camel_auth::install_carrier(&mut camel, &principal);
        }
        if !correlation_id.is_empty() {
            camel.correlation_id = correlation_id;
        }
        if !in_out {
            self.ctx.send(camel).await?;
            return Ok(Exchange::new(Body::Empty));
        }
        let mut done = self.ctx.send_and_wait(camel).await?;
        if let Some(error) = done.error.take() {
            return Err(error.into());
        }
        Ok(self.mapping.to_wasm(&mut done, Some(&self.route_id)).await?)
    }
}

impl tower::Service<Exchange> for RouteSubmit {
    type Response = Exchange;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Exchange, BoxError>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, exchange: Exchange) -> Self::Future {
        Box::pin(self.clone().submit(exchange))
    }
}
