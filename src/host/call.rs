//! `camel-call` and `camel-poll`: reaching endpoints the embedding application registered.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use tower::util::BoxCloneSyncService;
use tower::{Service, ServiceExt};
use wasmtime::component::Accessor;

use super::generated::host::HostWithStore;
use super::{HostImports, WasmError};

/// A request from a guest to an endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallRequest {
    /// The full endpoint URI, such as `direct:audit`.
    pub uri: String,
    /// The text body sent (empty for a poll).
    pub payload: String,
    /// Whether the guest sends (`camel-call`) or receives (`camel-poll`).
    pub kind: CallKind,
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
            CallKind::Poll { timeout } => tokio::time::timeout(timeout, service.oneshot(request))
                .await
                .unwrap_or(Err(CallError::Timeout { uri })),
        }
    }
}

impl<T: Send> HostWithStore<T> for HostImports {
    async fn camel_call(
        accessor: &Accessor<T, Self>,
        uri: String,
        payload: String,
    ) -> Result<String, WasmError> {
        let endpoints = accessor.with(|mut access| access.get().endpoints.clone());
        let request = CallRequest { uri, payload, kind: CallKind::Call };
        Ok(endpoints.dispatch(request).await?)
    }

    async fn camel_poll(
        accessor: &Accessor<T, Self>,
        uri: String,
        timeout_ms: u32,
    ) -> Result<String, WasmError> {
        let endpoints = accessor.with(|mut access| access.get().endpoints.clone());
        let timeout = Duration::from_millis(u64::from(timeout_ms));
        let request = CallRequest { uri, payload: String::new(), kind: CallKind::Poll { timeout } };
        Ok(endpoints.dispatch(request).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn echo() -> Endpoints {
        let endpoints = Endpoints::new();
        endpoints.register_fn("echo", |req: CallRequest| async move {
            Ok(format!("{}|{}", req.uri, req.payload))
        });
        endpoints.register_fn("never", |_req: CallRequest| async move {
            std::future::pending::<()>().await;
            Ok(String::new())
        });
        endpoints
    }

    fn call(uri: &str) -> CallRequest {
        CallRequest { uri: uri.into(), payload: "p".into(), kind: CallKind::Call }
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
        };
        assert_eq!(echo().dispatch(request).await, Err(CallError::Timeout { uri: "never:q".into() }));
    }

    #[test]
    fn errors_map_to_wasm_errors() {
        assert!(matches!(WasmError::from(CallError::Recursive),
            WasmError::ProcessorError(m) if m == "recursive wasm calls not supported"));
        assert!(matches!(WasmError::from(CallError::Timeout { uri: "a:b".into() }), WasmError::Timeout));
        assert!(matches!(WasmError::from(CallError::Io { uri: "a:b".into(), message: "x".into() }), WasmError::Io(_)));
    }
}
