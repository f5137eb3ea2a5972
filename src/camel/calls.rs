//! `camel-call` / `camel-poll` from a guest, through a CamelContext's components.
//!
//! camel-wasm dispatches a guest's call by URI scheme to tower services in
//! its [`Endpoints`] registry. [`CamelEndpoints::bridge`] registers one
//! service per scheme the CamelContext's component registry knows (`direct`,
//! `mock`, `log`, ...): a call resolves the URI through the context, sends an
//! in-out exchange whose body is the payload as `Text`, and answers the
//! reply body as text. A reply that is not UTF-8 is an error, never patched
//! with replacement characters. A `wasm:` target is refused by camel-wasm
//! before it gets here.
//!
//! Ownership, so that dropping the context frees the camel-wasm runtime: the
//! services registered in a runtime's [`Endpoints`] are owned by that
//! runtime, so they hold nothing that holds a camel-wasm runtime. They reach
//! the context's registry weakly, and the producer cache (whose producers may
//! hold a runtime, as a `wasm:` producer does) only weakly: the cache is
//! owned by the [`CamelEndpoints`] handles, among them the `WasmComponent`'s,
//! which lives in the context's registry. A strong cache reference in a call
//! service would close the cycle runtime → endpoints → call service → cache
//! → producer → runtime, and nothing would free it.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, Weak};
use std::task::{Context, Poll};
use std::time::Duration;

use camel_api::{
    Body as CamelBody, BoxProcessor, CamelError, Exchange as CamelExchange, Message as CamelMessage, ProducerContext,
};
use camel_component_api::{ComponentContext, RuntimeObservability};
use camel_core::{CamelContext, Registry, RegistryComponentContext};
use tower::{Service, ServiceExt};

use super::error::CamelWasmError;
use super::mapping::ExchangeMapping;
use crate::{CallError, CallKind, CallRequest, Endpoints};

/// Set on every exchange a guest's `camel-call` sends: a `wasm:` producer
/// refuses such an exchange as a recursive call, even when a component handed
/// it to another task (where the task-local guard does not reach).
pub const GUEST_CALL_PROPERTY: &str = "CamelWasmGuestCall";

/// Producers kept per URI before the cache is emptied and refilled.
const MAX_CACHED_PRODUCERS: usize = 256;

/// The endpoints of one CamelContext, reachable by URI from Rust and from guests.
///
/// Holds the context's component registry weakly: it keeps no context alive,
/// and once the context is dropped every call fails with an unknown scheme
/// (a guest's call with "the camel context is gone").
/// Cheap to clone; clones share the producer cache. The cache lives as long
/// as a `CamelEndpoints` handle does; the [`CamelCallService`]s registered in
/// a runtime do not keep it (nor the registry) alive, so a runtime never
/// keeps itself alive through them.
#[derive(Clone)]
pub struct CamelEndpoints {
    shared: Arc<Shared>,
    producers: Arc<ProducerCache>,
}

/// What a [`CamelCallService`] may hold strongly: nothing here holds a
/// runtime or the context's registry.
struct Shared {
    context: Arc<RegistryComponentContext>,
    registry: Weak<Mutex<Registry>>,
    producer_ctx: ProducerContext,
    mapping: ExchangeMapping,
    bridged: Mutex<HashSet<String>>,
}

/// Producers by URI. A producer may hold a runtime (a `wasm:` producer does),
/// so only [`CamelEndpoints`] handles own the cache; call services hold it weakly.
type ProducerCache = Mutex<HashMap<String, BoxProcessor>>;

impl std::fmt::Debug for CamelEndpoints {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CamelEndpoints").field("bridged", &self.shared.bridged()).finish_non_exhaustive()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

fn split_scheme(uri: &str) -> Result<&str, CamelWasmError> {
    match uri.split_once(':') {
        Some((scheme, _)) if !scheme.is_empty() => Ok(scheme),
        _ => Err(CamelWasmError::InvalidUri(uri.to_string())),
    }
}

/// What a [`CamelEndpoints`] takes from a CamelContext, captured without borrowing it.
#[derive(Clone)]
pub(crate) struct ContextParts {
    registry: Arc<Mutex<Registry>>,
    metrics: Arc<dyn camel_api::MetricsCollector>,
    shutdown: Arc<Mutex<tokio_util::sync::CancellationToken>>,
    producer_ctx: ProducerContext,
}

impl ContextParts {
    /// The parts of `context`. The registry is held only until the endpoints are built.
    pub(crate) fn of(context: &CamelContext) -> Self {
        Self {
            registry: context.registry_arc(),
            metrics: context.metrics(),
            shutdown: context.shutdown_token_slot(),
            producer_ctx: context.producer_context(),
        }
    }
}

impl std::fmt::Debug for ContextParts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ContextParts").finish_non_exhaustive()
    }
}

impl CamelEndpoints {
    /// The endpoints of `context`, reading stream replies up to the default bound.
    pub fn new(context: &CamelContext) -> Self {
        Self::with_mapping(context, ExchangeMapping::default())
    }

    /// The endpoints of `context`, reading stream replies up to `mapping`'s bound.
    pub fn with_mapping(context: &CamelContext, mapping: ExchangeMapping) -> Self {
        Self::from_parts(ContextParts::of(context), mapping)
    }

    /// The endpoints of the context `parts` came from.
    pub(crate) fn from_parts(parts: ContextParts, mapping: ExchangeMapping) -> Self {
        // RegistryComponentContext holds the registry weakly (camel-core 0.64);
        // `parts` (and its strong registry reference) is dropped on return.
        let component_context =
            RegistryComponentContext::new(parts.registry.clone(), Some(parts.metrics), false).with_shutdown_slot(parts.shutdown);
        Self {
            shared: Arc::new(Shared {
                context: Arc::new(component_context),
                registry: Arc::downgrade(&parts.registry),
                producer_ctx: parts.producer_ctx,
                mapping,
                bridged: Mutex::default(),
            }),
            producers: Arc::default(),
        }
    }

    /// Registers, in `endpoints`, a service for every scheme of the context's
    /// components not bridged yet (`wasm` excepted); returns those schemes.
    ///
    /// A scheme the application registered in `endpoints` itself is replaced
    /// when a camel component has the same scheme. Components registered
    /// later are picked up by calling this again (the component does so each
    /// time it creates an endpoint).
    pub fn bridge(&self, endpoints: &Endpoints) -> Vec<String> {
        let Some(registry) = self.shared.registry.upgrade() else { return Vec::new() };
        let schemes = lock(&registry).metadata_schemes();
        drop(registry);
        self.bridge_schemes(endpoints, schemes)
    }

    /// Like [`bridge`](Self::bridge), but does nothing when the registry is busy.
    pub(crate) fn try_bridge(&self, endpoints: &Endpoints) {
        let Some(registry) = self.shared.registry.upgrade() else { return };
        let schemes = match registry.try_lock() {
            Ok(guard) => guard.metadata_schemes(),
            Err(_) => return,
        };
        drop(registry);
        self.bridge_schemes(endpoints, schemes);
    }

    fn bridge_schemes(&self, endpoints: &Endpoints, schemes: Vec<String>) -> Vec<String> {
        let mut bridged = lock(&self.shared.bridged);
        let mut added = Vec::new();
        for scheme in schemes {
            if scheme.eq_ignore_ascii_case("wasm") || bridged.contains(&scheme) {
                continue;
            }
            endpoints.register(scheme.clone(), self.call_service());
            bridged.insert(scheme.clone());
            added.push(scheme);
        }
        added
    }

    /// The tower service answering guests' `camel-call` / `camel-poll` through this context.
    ///
    /// It shares this handle's producer cache while a `CamelEndpoints`
    /// handle is alive and creates a producer per call after that; it keeps
    /// neither the cache nor the context alive.
    pub fn call_service(&self) -> CamelCallService {
        CamelCallService { shared: self.shared.clone(), producers: Arc::downgrade(&self.producers) }
    }

    /// Sends `exchange` to the endpoint `uri` names and returns what it gives back.
    pub async fn send(&self, uri: &str, exchange: CamelExchange) -> Result<CamelExchange, CamelWasmError> {
        self.shared.send(uri, exchange, Some(&self.producers)).await
    }

    /// Sends `payload` as a `Text` body, in-out, and returns the reply body as text.
    ///
    /// The reply is the output message when the endpoint set one, else the
    /// input message as the endpoint left it. A reply whose bytes are not
    /// UTF-8 is [`CamelWasmError::NonUtf8Reply`].
    pub async fn request_text(&self, uri: &str, payload: impl Into<String>) -> Result<String, CamelWasmError> {
        self.shared.request_text(uri, payload.into(), false, Some(&self.producers)).await
    }

    /// Takes one message from the endpoint `uri` names, waiting at most
    /// `timeout`; `None` when nothing arrived. The endpoint must offer a
    /// polling consumer.
    pub async fn poll_text(&self, uri: &str, timeout: Duration) -> Result<Option<String>, CamelWasmError> {
        self.shared.poll_text(uri, timeout).await
    }
}

impl Shared {
    /// The schemes bridged so far.
    fn bridged(&self) -> Vec<String> {
        lock(&self.bridged).iter().cloned().collect()
    }

    /// Whether the context (its component registry) is still alive.
    fn context_alive(&self) -> bool {
        self.registry.strong_count() > 0
    }

    async fn send(
        &self,
        uri: &str,
        exchange: CamelExchange,
        producers: Option<&ProducerCache>,
    ) -> Result<CamelExchange, CamelWasmError> {
        let producer = self.producer(uri, producers)?;
        producer
            .oneshot(exchange)
            .await
            .map_err(|source| CamelWasmError::Endpoint { uri: uri.to_string(), source: Box::new(source) })
    }

    /// Sends `payload` in-out; `from_guest` marks the exchange with the
    /// recursion guard ([`GUEST_CALL_PROPERTY`]), which travels with it across tasks.
    async fn request_text(
        &self,
        uri: &str,
        payload: String,
        from_guest: bool,
        producers: Option<&ProducerCache>,
    ) -> Result<String, CamelWasmError> {
        let mut exchange = CamelExchange::new_in_out(CamelMessage::new(CamelBody::Text(payload)));
        if from_guest {
            exchange.set_property(GUEST_CALL_PROPERTY, true);
        }
        let mut reply = self.send(uri, exchange, producers).await?;
        if let Some(source) = reply.error.take() {
            return Err(CamelWasmError::Endpoint { uri: uri.to_string(), source: Box::new(source) });
        }
        let message = reply.output.take().unwrap_or(reply.input);
        self.body_text(uri, message.body).await
    }

    async fn poll_text(&self, uri: &str, timeout: Duration) -> Result<Option<String>, CamelWasmError> {
        let endpoint_error = |source| CamelWasmError::Endpoint { uri: uri.to_string(), source: Box::new(source) };
        let component = self.component(uri)?;
        let endpoint = component.create_endpoint(uri, self.context.as_ref()).map_err(endpoint_error)?;
        let mut consumer = endpoint.polling_consumer().ok_or_else(|| CamelWasmError::NotPollable { uri: uri.to_string() })?;
        match consumer.receive(timeout).await.map_err(endpoint_error)? {
            Some(exchange) => Ok(Some(self.body_text(uri, exchange.input.body).await?)),
            None => Ok(None),
        }
    }

    fn component(&self, uri: &str) -> Result<Arc<dyn camel_component_api::Component>, CamelWasmError> {
        let scheme = split_scheme(uri)?;
        self.context
            .resolve_component(scheme)
            .ok_or_else(|| CamelWasmError::UnknownScheme { scheme: scheme.to_string(), uri: uri.to_string() })
    }

    /// The producer for `uri`: cached in `producers`, or created through the context.
    ///
    /// Once the context is gone the cache is emptied (its producers may hold
    /// runtimes and endpoints of the dropped context) and the call fails
    /// with an unknown scheme, as an uncached one would.
    fn producer(&self, uri: &str, producers: Option<&ProducerCache>) -> Result<BoxProcessor, CamelWasmError> {
        if !self.context_alive() {
            let stale = producers.map(|cache| std::mem::take(&mut *lock(cache)));
            drop(stale); // outside the lock: a producer's drop may do anything
        }
        if let Some(found) = producers.and_then(|cache| lock(cache).get(uri).cloned()) {
            return Ok(found);
        }
        let component = self.component(uri)?;
        let endpoint_error = |source| CamelWasmError::Endpoint { uri: uri.to_string(), source: Box::new(source) };
        let endpoint = component.create_endpoint(uri, self.context.as_ref()).map_err(endpoint_error)?;
        drop(component);
        let rt: Arc<dyn RuntimeObservability> = self.context.clone();
        let producer = endpoint.create_producer(rt, &self.producer_ctx).map_err(endpoint_error)?;
        if let Some(cache) = producers {
            let stale = {
                let mut cache = lock(cache);
                let stale = if cache.len() >= MAX_CACHED_PRODUCERS { std::mem::take(&mut *cache) } else { HashMap::new() };
                cache.insert(uri.to_string(), producer.clone());
                stale
            };
            drop(stale);
        }
        Ok(producer)
    }

    /// A reply body as text, refusing bytes that are not UTF-8.
    async fn body_text(&self, uri: &str, body: CamelBody) -> Result<String, CamelWasmError> {
        let utf8 = |bytes: Vec<u8>| {
            String::from_utf8(bytes)
                .map_err(|e| CamelWasmError::NonUtf8Reply { uri: uri.to_string(), offset: e.utf8_error().valid_up_to() })
        };
        match body {
            CamelBody::Empty => Ok(String::new()),
            CamelBody::Text(s) | CamelBody::Xml(s) => Ok(s),
            CamelBody::Json(v) => Ok(v.to_string()),
            CamelBody::Bytes(b) => utf8(b.to_vec()),
            other => utf8(self.mapping.read_stream(other, "reply").await?.to_vec()),
        }
    }

    /// A guest's call or poll, answered through the context.
    async fn answer(&self, request: CallRequest, producers: Option<&ProducerCache>) -> Result<String, CallError> {
        let uri = request.uri.clone();
        if !self.context_alive() {
            if let Some(cache) = producers {
                let stale = std::mem::take(&mut *lock(cache));
                drop(stale);
            }
            return Err(CallError::Failed {
                uri,
                message: "the camel context is gone: the CamelContext these calls went through was dropped".into(),
            });
        }
        let outcome = match request.kind {
            CallKind::Call => self.request_text(&uri, request.payload, request.guard.is_some(), producers).await,
            CallKind::Poll { timeout } => match self.poll_text(&uri, timeout).await {
                Ok(Some(text)) => Ok(text),
                Ok(None) => return Err(CallError::Timeout { uri }),
                Err(e) => Err(e),
            },
        };
        outcome.map_err(|err| match err {
            CamelWasmError::InvalidUri(uri) => CallError::InvalidUri(uri),
            CamelWasmError::UnknownScheme { scheme, uri } => CallError::UnknownScheme { scheme, uri },
            CamelWasmError::Endpoint { source, .. } => match *source {
                CamelError::Io(message) => CallError::Io { uri: uri.clone(), message },
                other => CallError::Failed { uri: uri.clone(), message: other.to_string() },
            },
            other => CallError::Failed { uri: uri.clone(), message: other.to_string() },
        })
    }
}

/// The tower service a guest's `camel-call` / `camel-poll` reaches for a bridged scheme.
///
/// Holds the context and the producer cache of the [`CamelEndpoints`] it
/// came from weakly (see [`CamelEndpoints::call_service`]); after the
/// context is dropped a call fails with "the camel context is gone".
#[derive(Clone)]
pub struct CamelCallService {
    shared: Arc<Shared>,
    producers: Weak<ProducerCache>,
}

impl std::fmt::Debug for CamelCallService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CamelCallService")
            .field("context_alive", &self.shared.context_alive())
            .field("cached_producers", &(self.producers.strong_count() > 0))
            .finish_non_exhaustive()
    }
}

impl Service<CallRequest> for CamelCallService {
    type Response = String;
    type Error = CallError;
    type Future = Pin<Box<dyn Future<Output = Result<String, CallError>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), CallError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: CallRequest) -> Self::Future {
        let shared = self.shared.clone();
        // Upgraded for this call only: the future may keep the cache until it is done, never longer.
        let producers = self.producers.upgrade();
        Box::pin(async move { shared.answer(request, producers.as_deref()).await })
    }
}
