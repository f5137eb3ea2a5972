//! The `source` world: a guest that runs its own accept/submit loop on an
//! HTTP listener the host grants (webhooks, inbound adapters).
//!
//! [`Source::start`] runs the guest's `configure`, checks its plan (exactly
//! one http-listener, whose bind agrees with the operator's), binds the edge's
//! hyper server ([`crate::source`]), and drives the guest's `run` on a task
//! ([`supervisor`]), restarting it with back-off when it traps.

mod bindings;
mod supervisor;

pub use supervisor::ListenerPlan;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tower::util::BoxCloneSyncService;

pub(crate) use bindings::Pre;

use crate::error::WasmError;
use crate::exchange::Exchange;
use crate::limits::Limits;
use crate::runtime::Runtime;
use crate::source::shared::Shared;
use crate::source::{BoxError, SourceError, SourceOptions, SubmitService, auth, http, tls};
use crate::stream::StreamBounds;

/// The world's name in the WIT.
pub(crate) const WORLD: &str = "source";

/// The pre-instantiated `source` world of `compiled` (made once per file).
pub(crate) fn pre(runtime: &Runtime, compiled: &crate::runtime::Compiled) -> Result<Pre, crate::error::LoadError> {
    runtime.pre_in(compiled, WORLD, bindings::Pre::new)
}

/// Requests queued for the guest before the HTTP edge waits (back-pressure).
const QUEUED_REQUESTS: usize = 64;

/// A loaded `source`-world component, ready to start.
#[derive(Clone)]
pub struct Source {
    runtime: Runtime,
    pre: Pre,
    /// The source's reserved instance in the pooling allocator (none without pooling).
    share: Option<Arc<crate::store::slots::EndpointShare>>,
    plugin: Arc<str>,
    /// Keeps the component in the runtime's compiled set while this source exists.
    _compiled: Arc<crate::runtime::Compiled>,
    limits: Limits,
    options: SourceOptions,
}

impl std::fmt::Debug for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Source").field("name", &self.plugin).field("options", &self.options).finish_non_exhaustive()
    }
}

impl Source {
    /// Loads the source at `path`, checking it fits the `source` world.
    pub fn load(runtime: &Runtime, path: &str, limits: Limits, options: SourceOptions) -> Result<Self, WasmError> {
        let compiled = runtime.compile(path, &limits)?;
        let pre = pre(runtime, &compiled)?;
        let share = runtime.reserve_share(&compiled.name, &compiled.component, &limits)?;
        Ok(Self { runtime: runtime.clone(), pre, share, plugin: compiled.name.clone(), _compiled: compiled, limits, options })
    }

    /// Loads the source a `wasm:path?bind=…&path=…&knobs` URI names.
    pub fn from_uri(runtime: &Runtime, uri: &str) -> Result<Self, WasmError> {
        let (uri, options) = SourceOptions::parse_uri(uri, Limits::default()).map_err(crate::error::LoadError::from)?;
        Self::load(runtime, &uri.path, uri.limits, options)
    }

    /// The plugin's name (its path).
    pub fn name(&self) -> &str {
        &self.plugin
    }

    /// The operator's options.
    pub fn options(&self) -> &SourceOptions {
        &self.options
    }

    /// The plan the guest makes with `config` (after the operator's `bind` and
    /// `path`), checked, without binding or running anything: for `inspect`.
    pub async fn plan(&self, config: Vec<(String, String)>) -> Result<ListenerPlan, SourceError> {
        let refuse = tower::service_fn(|_: Exchange| async { Err::<Exchange, BoxError>("only planning".into()) });
        let submit: SubmitService = BoxCloneSyncService::new(refuse);
        let pairs = self.options.config_pairs(config);
        let (_requests_tx, requests_rx) = mpsc::channel(1);
        let shared = Arc::new(Shared::new(self.plugin.clone(), requests_rx, submit, self.body_bounds(), 1));
        supervisor::Guest::new(self.clone(), shared, pairs).configure().await
    }

    /// The bounds on a request body this source reads.
    fn body_bounds(&self) -> StreamBounds {
        StreamBounds {
            plugin: self.plugin.clone(),
            max_bytes: self.options.max_body_bytes.unwrap_or(self.limits.max_stream_bytes),
            idle_timeout: self.limits.stream_idle_timeout,
            moved: ::metrics::Counter::noop(),
        }
    }

    /// Configures the guest with `config` (after the operator's `bind` and
    /// `path`), binds its listener and runs it; each exchange it submits goes to `submit`.
    pub async fn start<S>(&self, config: Vec<(String, String)>, submit: S) -> Result<RunningSource, SourceError>
    where
        S: tower::Service<Exchange, Response = Exchange> + Clone + Send + Sync + 'static,
        S::Error: Into<BoxError>,
        S::Future: Send + 'static,
    {
        let submit: SubmitService = BoxCloneSyncService::new(tower::ServiceExt::map_err(submit, Into::into));
        // Who may call, and over what, is settled before the guest runs.
        let access = auth::Access::from_options(&self.plugin, &self.options.auth).await?;
        let tls = self.tls()?;
        let pairs = self.options.config_pairs(config);
        let (requests_tx, requests_rx) = mpsc::channel(QUEUED_REQUESTS);
        let bounds = self.body_bounds();
        let shared = Arc::new(Shared::new(self.plugin.clone(), requests_rx, submit, bounds.clone(), self.limits.max_concurrent));
        let mut guest = supervisor::Guest::new(self.clone(), shared.clone(), pairs);
        let plan = guest.configure().await?;
        let (listener, addr) = self.bind(&plan).await?;
        shared.set_concurrency(plan.concurrency);
        let options = &self.options;
        let edge = http::Edge {
            path: plan.path.clone(),
            max_body_bytes: bounds.max_bytes,
            request_timeout: options.request_timeout,
            body_timeout: options.body_timeout,
            requests: requests_tx,
            next_id: Arc::new(AtomicU64::new(1)),
            nonce: shared.nonce,
            plugin: self.plugin.clone(),
            access,
            denials: Arc::default(),
        };
        let limits = http::ConnectionLimits {
            header_read_timeout: options.header_read_timeout,
            keep_alive_timeout: options.keep_alive_timeout,
            write_timeout: self.limits.stream_idle_timeout,
            max_connections: options.max_connections,
            max_header_bytes: options.max_header_bytes,
            tls,
        };
        let connections = Arc::new(http::Connections::default());
        let edge_stop = tokio_util::sync::CancellationToken::new();
        let server = tokio::spawn(http::serve(listener, edge, limits, connections.clone(), edge_stop.clone()));
        let run = tokio::spawn(supervisor::supervise(guest));
        let path = plan.path.clone();
        let https = options.tls_cert.is_some();
        Ok(RunningSource {
            addr,
            path,
            https,
            shared,
            connections,
            run: Some(run),
            server: Some(server),
            edge_stop,
            timeout: self.limits.timeout,
        })
    }

    /// The TLS acceptor `tls-cert` and `tls-key` make, if they are set (both or neither).
    fn tls(&self) -> Result<Option<tls::Acceptor>, SourceError> {
        let refuse = |reason: String| SourceError::Tls { plugin: self.plugin.to_string(), reason };
        match (&self.options.tls_cert, &self.options.tls_key) {
            (None, None) => Ok(None),
            (Some(cert), Some(key)) => tls::acceptor(cert, key).map(Some).map_err(refuse),
            _ => Err(refuse("tls-cert and tls-key go together: give both, or neither for plain HTTP".into())),
        }
    }

    /// Binds the plan's listener, after checking it against the operator's options.
    async fn bind(&self, plan: &supervisor::ListenerPlan) -> Result<(tokio::net::TcpListener, SocketAddr), SourceError> {
        let plugin = self.plugin.to_string();
        let guest_bind: SocketAddr = plan.bind.parse().map_err(|_| SourceError::Plan {
            plugin: plugin.clone(),
            reason: format!("the listener's bind '{}' is not a socket address", plan.bind),
        })?;
        if let Some(operator) = self.options.bind
            && operator != guest_bind
        {
            let (operator, guest) = (operator.to_string(), guest_bind.to_string());
            return Err(SourceError::Mismatch { plugin, what: "bind", operator, guest });
        }
        if let (Some(operator), Some(guest)) = (&self.options.path, &plan.path)
            && operator != guest
        {
            let (operator, guest) = (operator.clone(), guest.clone());
            return Err(SourceError::Mismatch { plugin, what: "path", operator, guest });
        }
        if !guest_bind.ip().is_loopback() && !self.options.allow_public_bind {
            let reason = "a non-loopback address needs allow-public-bind=true".to_string();
            return Err(SourceError::Bind { plugin, addr: guest_bind.to_string(), reason });
        }
        let listener = tokio::net::TcpListener::bind(guest_bind).await.map_err(|e| SourceError::Bind {
            plugin: plugin.clone(),
            addr: guest_bind.to_string(),
            reason: e.to_string(),
        })?;
        let addr = listener.local_addr().map_err(|e| SourceError::Bind {
            plugin,
            addr: guest_bind.to_string(),
            reason: e.to_string(),
        })?;
        Ok((listener, addr))
    }
}

/// A source serving HTTP. Stop it with [`stop`](Self::stop); dropping it stops it too, without waiting.
pub struct RunningSource {
    addr: SocketAddr,
    path: Option<String>,
    https: bool,
    shared: Arc<Shared>,
    connections: Arc<http::Connections>,
    run: Option<JoinHandle<()>>,
    server: Option<JoinHandle<()>>,
    edge_stop: tokio_util::sync::CancellationToken,
    timeout: Duration,
}

impl std::fmt::Debug for RunningSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningSource").field("plugin", &self.shared.plugin).field("addr", &self.addr).finish_non_exhaustive()
    }
}

impl RunningSource {
    /// The address the listener is bound to (the real port when the bind asked for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The only path served, as the guest's plan says (`None`: every path).
    pub fn path(&self) -> Option<&str> {
        self.path.as_deref()
    }

    /// Whether the listener speaks HTTPS.
    pub fn is_https(&self) -> bool {
        self.https
    }

    /// Connections open on the listener now (at most `max-connections`).
    pub fn open_connections(&self) -> usize {
        self.connections.len()
    }

    /// How many times the guest's `run` was restarted after failing.
    pub fn restarts(&self) -> u64 {
        self.shared.restarts.load(Ordering::Relaxed)
    }

    /// Why `run` last ended badly, if it did.
    pub fn last_error(&self) -> Option<String> {
        self.shared.last_error.lock().unwrap().clone()
    }

    /// The typed error of the guest's last failure (a trap, a timeout, out of
    /// memory, its own error), classified as in every other world.
    pub fn last_failure(&self) -> Option<WasmError> {
        self.shared.last_failure.lock().unwrap().clone()
    }

    /// Exchanges the guest submitted so far.
    pub fn submitted(&self) -> u64 {
        self.shared.submitted.load(Ordering::Relaxed)
    }

    /// Stops: `is-cancelled` turns true, a pending `accept-http` returns `none`,
    /// `submit-exchange` returns `stopped`. Returns once `run` ended; a guest
    /// still running after the call timeout is interrupted (and that is the error).
    /// Requests not answered get 503.
    pub async fn stop(mut self) -> Result<(), SourceError> {
        self.shared.cancel.cancel();
        let mut result = Ok(());
        if let Some(mut run) = self.run.take()
            && tokio::time::timeout(self.timeout, &mut run).await.is_err()
        {
            self.shared.interrupt.store(true, Ordering::Release);
            if tokio::time::timeout(Duration::from_secs(1), &mut run).await.is_err() {
                run.abort();
            }
            result = Err(SourceError::StopTimeout { plugin: self.shared.plugin.to_string(), timeout: self.timeout });
        }
        self.shared.answer_pending(::http::StatusCode::SERVICE_UNAVAILABLE, "the source stopped");
        self.edge_stop.cancel();
        supervisor::refuse_queued(&self.shared).await;
        if let Some(server) = self.server.take() {
            let _ = server.await;
        }
        result
    }
}

impl Drop for RunningSource {
    fn drop(&mut self) {
        self.shared.cancel.cancel();
        self.edge_stop.cancel();
        if let Some(run) = self.run.take() {
            run.abort();
        }
    }
}
