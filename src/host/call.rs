//! `camel-call` and `camel-poll`: reaching endpoints the embedding application registered.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use tower::util::BoxCloneSyncService;
use tower::{Service, ServiceExt};
use wasmtime::component::Accessor;

use super::{HostImports, WasmError};
use crate::bindings::host::HostWithStore;

tokio::task_local! {
    /// Set while a guest call runs on this task: a nested WASM call is refused.
    static IN_GUEST: ();
}

/// Whether the current task is inside a guest call (or work a guest call handed on).
pub(crate) fn in_guest_call() -> bool {
    IN_GUEST.try_with(|_| ()).is_ok()
}

/// Runs `future` marked as inside a guest call: any WASM call it makes is refused.
pub(crate) fn guest_scope<F: Future>(future: F) -> impl Future<Output = F::Output> {
    IN_GUEST.scope((), future)
}

/// A request from a guest to an endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallRequest {
    /// The full endpoint URI, such as `direct:audit`.
    pub uri: String,
    /// The text body sent (empty for a poll).
    pub payload: String,
    /// Whether the guest sends (`camel-call`) or receives (`camel-poll`).
    pub kind: CallKind,
    /// The recursion guard: present when the request comes from a guest.
    pub guard: Option<GuestCallGuard>,
}

impl CallRequest {
    /// A `camel-call` from Rust (no guest involved).
    pub fn call(uri: impl Into<String>, payload: impl Into<String>) -> Self {
        Self { uri: uri.into(), payload: payload.into(), kind: CallKind::Call, guard: None }
    }

    /// Runs `future` carrying this request's recursion guard.
    ///
    /// An endpoint that hands work to another task (`tokio::spawn`) wraps it
    /// here, so that a WASM call made by that work is still refused as recursive.
    pub fn scope<F: Future>(&self, future: F) -> impl Future<Output = F::Output> + use<F> {
        let guarded = self.guard.is_some() || in_guest_call();
        async move { if guarded { guest_scope(future).await } else { future.await } }
    }
}

/// Marks a request as made from inside a guest call; see [`CallRequest::scope`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GuestCallGuard {
    _from_guest: (),
}

impl GuestCallGuard {
    fn new() -> Self {
        Self { _from_guest: () }
    }
}

/// The two ways a guest reaches an endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallKind {
    /// Send the payload and wait for the reply (`camel-call`).
    Call,
    /// Take one message, waiting at most `timeout` (`camel-poll`).
    Poll {
        /// How long the guest is willing to wait.
        timeout: Duration,
    },
}

/// Why an endpoint call failed; the guest receives it as a `wasm-error`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    /// The URI has no `scheme:` prefix.
    #[error("invalid endpoint uri '{0}': expected 'scheme:path'")]
    InvalidUri(String),
    /// Nothing is registered for the URI's scheme.
    #[error("no endpoint registered for scheme '{scheme}' (uri '{uri}')")]
    UnknownScheme {
        /// The scheme looked up.
        scheme: String,
        /// The URI the guest called.
        uri: String,
    },
    /// The guest targeted a WASM endpoint (or a WASM call was made from inside a guest call).
    #[error("recursive wasm calls not supported")]
    Recursive,
    /// The endpoint's `allow-call` does not cover the URI (or the world may never call).
    #[error("{}", denied_message(scheme, uri, *policy))]
    Denied {
        /// The scheme the guest called.
        scheme: String,
        /// The URI the guest called.
        uri: String,
        /// Whether the caller is an authorization policy, which may never call.
        policy: bool,
    },
    /// The endpoint answered with an error.
    #[error("endpoint '{uri}' failed: {message}")]
    Failed {
        /// The URI the guest called.
        uri: String,
        /// What went wrong.
        message: String,
    },
    /// The endpoint could not be reached or read.
    #[error("endpoint '{uri}' i/o error: {message}")]
    Io {
        /// The URI the guest called.
        uri: String,
        /// What went wrong.
        message: String,
    },
    /// Nothing arrived in time.
    #[error("endpoint '{uri}' timed out")]
    Timeout {
        /// The URI the guest called.
        uri: String,
    },
}

/// A denial's text: why, and the narrowest `allow-call` entry that would allow the call.
fn denied_message(scheme: &str, uri: &str, policy: bool) -> String {
    if policy {
        return format!("call to '{uri}' denied: authorization policies may never call endpoints");
    }
    let entry = super::allowlist::narrowest_entry(uri);
    if let Some(why) = super::allowlist::prefix_refusal(uri) {
        return format!(
            "call to '{uri}' denied: after an allow-call prefix, {why}; only the whole scheme would allow it (allow-call={entry})"
        );
    }
    let query = if entry.ends_with("?*") { "; query options pass only an entry ending in '?*'" } else { "" };
    format!(
        "call to '{uri}' denied: scheme '{scheme}' is not in this endpoint's allow-call or no entry covers this URI\
         {query} (the narrowest entry allowing it: allow-call={entry})"
    )
}

impl From<CallError> for WasmError {
    fn from(err: CallError) -> Self {
        match err {
            CallError::Timeout { .. } => WasmError::Timeout,
            CallError::Io { .. } => WasmError::Io(err.to_string()),
            other => WasmError::ProcessorError(other.to_string()),
        }
    }
}

/// A boxed endpoint: a tower service from a [`CallRequest`] to the reply body.
pub type EndpointService = BoxCloneSyncService<CallRequest, String, CallError>;

/// Registry of endpoints by URI scheme, shared by every plugin of a runtime.
///
/// Cloning is cheap; clones see the same registrations.
#[derive(Clone, Default)]
pub struct Endpoints {
    by_scheme: Arc<RwLock<HashMap<String, EndpointService>>>,
}

impl std::fmt::Debug for Endpoints {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let schemes: Vec<String> = self.by_scheme.read().unwrap().keys().cloned().collect();
        f.debug_struct("Endpoints").field("schemes", &schemes).finish()
    }
}

impl Endpoints {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers a tower service for every URI starting with `scheme:`.
    ///
    /// The `wasm` scheme is refused at call time whatever is registered.
    pub fn register<S>(&self, scheme: impl Into<String>, service: S) -> &Self
    where
        S: Service<CallRequest, Response = String, Error = CallError> + Clone + Send + Sync + 'static,
        S::Future: Send + 'static,
    {
        let service = BoxCloneSyncService::new(service);
        self.by_scheme.write().unwrap().insert(scheme.into(), service);
        self
    }

    /// Registers an async function as the endpoint for `scheme`.
    pub fn register_fn<F, Fut>(&self, scheme: impl Into<String>, handler: F) -> &Self
    where
        F: Fn(CallRequest) -> Fut + Clone + Send + Sync + 'static,
        Fut: Future<Output = Result<String, CallError>> + Send + 'static,
    {
        self.register(scheme, tower::service_fn(handler))
    }

    /// Sends `request` to the endpoint its URI names, honouring a poll's timeout.
    pub async fn dispatch(&self, request: CallRequest) -> Result<String, CallError> {
        let uri = request.uri.clone();
        let scheme = match uri.split_once(':') {
            Some((scheme, _)) if !scheme.is_empty() => scheme,
            _ => return Err(CallError::InvalidUri(uri)),
        };
        if scheme.eq_ignore_ascii_case("wasm") {
            return Err(CallError::Recursive);
        }
        let service = self.by_scheme.read().unwrap().get(scheme).cloned();
        let Some(service) = service else {
            return Err(CallError::UnknownScheme { scheme: scheme.to_string(), uri });
        };
        match request.kind {
            CallKind::Call => service.oneshot(request).await,
            CallKind::Poll { timeout } => {
                tokio::time::timeout(timeout, service.oneshot(request)).await.unwrap_or(Err(CallError::Timeout { uri }))
            }
        }
    }
}

impl<T: Send> HostWithStore<T> for HostImports {
    async fn camel_call(accessor: &Accessor<T, Self>, uri: String, payload: String) -> Result<String, WasmError> {
        let request = CallRequest { uri, payload, kind: CallKind::Call, guard: Some(GuestCallGuard::new()) };
        guest_dispatch(accessor, request).await
    }

    async fn camel_poll(accessor: &Accessor<T, Self>, uri: String, timeout_ms: u32) -> Result<String, WasmError> {
        let timeout = Duration::from_millis(u64::from(timeout_ms));
        let request =
            CallRequest { uri, payload: String::new(), kind: CallKind::Poll { timeout }, guard: Some(GuestCallGuard::new()) };
        guest_dispatch(accessor, request).await
    }
}

/// A guest's request, checked against the endpoint's allowlist, then dispatched under the guard.
async fn guest_dispatch<T: Send>(accessor: &Accessor<T, HostImports>, request: CallRequest) -> Result<String, WasmError> {
    let checked = accessor.with(|mut access| {
        let host = access.get();
        host.check_call(&request.uri).map(|()| host.endpoints.clone())
    });
    let endpoints = checked?;
    Ok(guest_scope(endpoints.dispatch(request)).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn echo() -> Endpoints {
        let endpoints = Endpoints::new();
        endpoints.register_fn("echo", |req: CallRequest| async move { Ok(format!("{}|{}", req.uri, req.payload)) });
        endpoints.register_fn("never", |_req: CallRequest| async move {
            std::future::pending::<()>().await;
            Ok(String::new())
        });
        endpoints
    }

    fn call(uri: &str) -> CallRequest {
        CallRequest::call(uri, "p")
    }

    #[tokio::test]
    async fn dispatches_by_scheme() {
        assert_eq!(echo().dispatch(call("echo:a?b=1")).await.unwrap(), "echo:a?b=1|p");
    }

    #[tokio::test]
    async fn refuses_wasm_scheme_and_unknown_schemes() {
        let endpoints = echo();
        assert_eq!(endpoints.dispatch(call("wasm:x.wasm")).await, Err(CallError::Recursive));
        assert_eq!(endpoints.dispatch(call("WASM:x.wasm")).await, Err(CallError::Recursive));
        assert!(matches!(
            endpoints.dispatch(call("nope:x")).await,
            Err(CallError::UnknownScheme { scheme, .. }) if scheme == "nope"
        ));
        assert_eq!(endpoints.dispatch(call("no-scheme")).await, Err(CallError::InvalidUri("no-scheme".into())));
    }

    #[tokio::test]
    async fn poll_honours_its_timeout() {
        let request = CallRequest {
            uri: "never:q".into(),
            payload: String::new(),
            kind: CallKind::Poll { timeout: Duration::from_millis(20) },
            guard: None,
        };
        assert_eq!(echo().dispatch(request).await, Err(CallError::Timeout { uri: "never:q".into() }));
    }

    #[tokio::test]
    async fn the_guard_travels_into_spawned_tasks_through_scope() {
        let guarded = CallRequest { guard: Some(GuestCallGuard::new()), ..call("echo:x") };
        let seen = tokio::spawn(guarded.scope(async { in_guest_call() })).await.unwrap();
        assert!(seen, "work handed on by a guest request is inside the guest call");
        let plain = tokio::spawn(call("echo:x").scope(async { in_guest_call() })).await.unwrap();
        assert!(!plain, "a request from Rust is not");
    }

    #[test]
    fn denials_name_the_scheme_and_the_parameter() {
        let err = CallError::Denied { scheme: "http".into(), uri: "http://169.254.169.254/x".into(), policy: false };
        let text = err.to_string();
        assert!(text.contains("scheme 'http'") && text.ends_with("allow-call=http://169.254.169.254/x)"), "{text}");
        let query = CallError::Denied { scheme: "log".into(), uri: "log:audit?fileName=x".into(), policy: false };
        assert!(query.to_string().ends_with("allow-call=log:audit?*)"), "{query}");
        let dots = CallError::Denied { scheme: "log".into(), uri: "log:audit/%2e%2E/x".into(), policy: false };
        assert!(dots.to_string().contains("'..' path segments") && dots.to_string().ends_with("(allow-call=log)"), "{dots}");
        let policy = CallError::Denied { scheme: "log".into(), uri: "log:x".into(), policy: true };
        assert!(policy.to_string().contains("authorization policies may never call"), "{policy}");
    }

    #[test]
    fn errors_map_to_wasm_errors() {
        assert!(matches!(WasmError::from(CallError::Recursive),
            WasmError::ProcessorError(m) if m == "recursive wasm calls not supported"));
        assert!(matches!(WasmError::from(CallError::Timeout { uri: "a:b".into() }), WasmError::Timeout));
        assert!(matches!(WasmError::from(CallError::Io { uri: "a:b".into(), message: "x".into() }), WasmError::Io(_)));
    }
}
