//! The `source-host` imports, for every store (only a source's store has a [`Shared`] behind them).

use std::sync::Arc;
use std::sync::atomic::Ordering;

use wasmtime::component::{Accessor, HasData, Linker, Resource};

use super::ListenerHandle;
use super::auth::{principal_properties, with_principal};
use super::shared::{DIRECT_REPLY_HEADER, Pending, REQUEST_ID_HEADER, Reply, Shared};
use crate::bindings::source_host::{self, HttpRequest, SubmitOutcome};
use crate::bindings::{WasmError, WasmExchange};
use crate::exchange::{Pattern, wire};
use crate::store::{SourceCtx, SourceLink, StoreState};
use crate::stream::{from_guest, to_guest};

impl SourceLink for Shared {
    fn interrupted(&self) -> bool {
        self.interrupt.load(Ordering::Acquire)
    }
}

/// Marker type projecting a store's data onto its [`SourceCtx`].
pub(crate) struct SourceImports;

impl HasData for SourceImports {
    type Data<'a> = &'a mut SourceCtx;
}

/// Adds the `source-host` interface to `linker`.
pub(crate) fn add_to_linker(linker: &mut Linker<StoreState>) -> wasmtime::Result<()> {
    source_host::add_to_linker::<StoreState, SourceImports>(linker, |state| &mut state.source)
}

impl source_host::Host for SourceCtx {
    fn is_cancelled(&mut self) -> bool {
        self.get::<Shared>().is_none_or(|s| s.cancel.is_cancelled())
    }
}

impl source_host::HostHttpListener for SourceCtx {
    fn drop(&mut self, _listener: Resource<ListenerHandle>) -> wasmtime::Result<()> {
        Ok(())
    }
}

fn shared(accessor: &Accessor<StoreState, SourceImports>) -> Result<Arc<Shared>, WasmError> {
    accessor
        .with(|mut access| access.get().get::<Shared>())
        .ok_or_else(|| WasmError::ProcessorError("this instance runs no source".into()))
}

impl source_host::HostWithStore<StoreState> for SourceImports {
    async fn accept_http(
        accessor: &Accessor<StoreState, Self>,
        _listener: Resource<ListenerHandle>,
    ) -> Result<Option<HttpRequest>, WasmError> {
        let shared = shared(accessor)?;
        if shared.sequential.load(Ordering::Acquire) {
            // A sequential guest that asks for the next request is done with the last one.
            shared.answer_pending(http::StatusCode::ACCEPTED, "accepted");
        }
        let slot = tokio::select! {
            slot = shared.slots.clone().acquire_owned() => slot.map_err(|_| WasmError::ProcessorError("source closed".into()))?,
            () = shared.cancel.cancelled() => return Ok(None),
        };
        // Requests the edge answered already (504 while queued, a client gone) are skipped.
        let incoming = {
            let mut requests = shared.requests.lock().await;
            loop {
                let next = tokio::select! {
                    incoming = requests.recv() => incoming,
                    () = shared.cancel.cancelled() => None,
                };
                match next {
                    Some(incoming) if incoming.reply.is_closed() || incoming.end.ended.is_cancelled() => continue,
                    other => break other,
                }
            }
        };
        let Some(incoming) = incoming else { return Ok(None) };
        let handle = accessor.with(|mut access| to_guest::handle(&mut access, &incoming.body, &shared.stream_bounds));
        let body = match handle {
            Ok(body) => body,
            Err(e) => {
                let _ = incoming.reply.send(Reply::Status(http::StatusCode::INTERNAL_SERVER_ERROR, "stream setup failed".into()));
                return Err(WasmError::ProcessorError(format!("could not hand the request body over: {e:#}")));
            }
        };
        let request =
            HttpRequest { method: incoming.method.clone(), path: incoming.path.clone(), headers: incoming.headers.clone(), body };
        shared.accepted(incoming, slot);
        Ok(Some(request))
    }

    async fn submit_exchange(
        accessor: &Accessor<StoreState, Self>,
        mut exchange: WasmExchange,
    ) -> Result<SubmitOutcome, WasmError> {
        let shared = shared(accessor)?;
        if shared.cancel.is_cancelled() {
            return Ok(SubmitOutcome::Stopped);
        }
        let header = exchange.input.headers.iter().find(|(k, _)| k == REQUEST_ID_HEADER).map(|(_, v)| v.clone());
        let pending = shared.take_pending(&exchange.correlation_id, header.as_deref());
        let taken = accessor.with(|mut access| {
            let guest = from_guest::take_returned(&mut access, &mut exchange)?;
            Ok::<_, String>(guest.map(|guest| {
                let returned = guest.returned();
                from_guest::drain_beside(&mut access, guest, &shared.stream_bounds);
                returned
            }))
        });
        let returned = match taken {
            Ok(returned) => returned,
            Err(reason) => {
                if let Ok(Some(pending)) = pending {
                    pending.answer(Reply::Status(http::StatusCode::INTERNAL_SERVER_ERROR, reason.clone()));
                }
                return Err(WasmError::ProcessorError(reason));
            }
        };
        let mut pending = match pending {
            Ok(pending) => pending,
            Err(n) => {
                return Err(WasmError::ProcessorError(format!(
                    "the exchange names no request (neither its correlation id nor a {REQUEST_ID_HEADER} header is one the \
                     host handed out) and {n} are pending: it answers none, and it was not delivered"
                )));
            }
        };
        // The guest's exchange is new: its ids are its own, not passed through from one sent.
        let mut exchange = match wire::from_guest(exchange) {
            Ok(exchange) => exchange,
            Err(e) => return Err(WasmError::TypeConversion(e.to_string())),
        };
        if let Some(returned) = returned {
            returned.put_into(&mut exchange);
        }
        // Identity is the host's: a guest cannot claim one, the edge's principal is attached.
        exchange.properties.retain(|name, _| !crate::exchange::is_host_owned(name));
        let principal = pending.as_mut().and_then(|p| p.principal.take());
        if let Some(principal) = &principal {
            exchange.properties.extend(principal_properties(principal));
        }
        let direct = exchange.input.headers.get(DIRECT_REPLY_HEADER).and_then(|v| v.as_str()) == Some("direct");
        // An answered request's exchange never reaches the route (a client retrying on 504 causes no duplicate).
        if let Some(reason) = pending.as_ref().and_then(Pending::gone) {
            if direct {
                // The guest's own answer (a rejection) to a request already answered: moot, and nothing is delivered.
                return Ok(SubmitOutcome::Accepted);
            }
            return Err(WasmError::ProcessorError(format!("{reason}: the exchange was not delivered")));
        }
        // A direct reply takes a permit like any submitted exchange: it is work in flight too.
        let permit = match pending.as_mut() {
            Some(waiting) => tokio::select! {
                permit = shared.in_flight.clone().acquire_owned() => permit.map_err(|_| WasmError::ProcessorError("source closed".into()))?,
                () = shared.cancel.cancelled() => return Ok(SubmitOutcome::Stopped),
                () = waiting.closed() => {
                    let reason = waiting.gone().unwrap_or_default();
                    return Err(WasmError::ProcessorError(format!("{reason} while it waited for max-concurrent: the exchange was not delivered")));
                }
            },
            None => tokio::select! {
                permit = shared.in_flight.clone().acquire_owned() => permit.map_err(|_| WasmError::ProcessorError("source closed".into()))?,
                () = shared.cancel.cancelled() => return Ok(SubmitOutcome::Stopped),
            },
        };
        if direct {
            // The guest answers the request itself (a rejection): the route never sees it.
            if let Some(pending) = pending {
                exchange.input.headers.remove(DIRECT_REPLY_HEADER);
                pending.answer(Reply::Exchange(Box::new(exchange)));
            }
            drop(permit);
            return Ok(SubmitOutcome::Accepted);
        }
        shared.submitted.fetch_add(1, Ordering::Relaxed);
        let service = shared.submit.clone();
        let plugin = shared.plugin.clone();
        let in_out = exchange.pattern == Pattern::InOut;
        let pending = match pending {
            Some(pending) if !in_out => {
                pending.answer(Reply::Status(http::StatusCode::ACCEPTED, "accepted".into()));
                None
            }
            other => other,
        };
        let cancel = shared.cancel.clone();
        tokio::spawn(async move {
            let route = with_principal(principal, tower::ServiceExt::oneshot(service, exchange));
            tokio::pin!(route);
            // Stopping answers a waiting client at once; the route still runs to its end.
            let (result, pending) = match pending {
                Some(pending) => tokio::select! {
                    result = &mut route => (result, Some(pending)),
                    () = cancel.cancelled() => {
                        pending.answer(Reply::Status(http::StatusCode::SERVICE_UNAVAILABLE, "the source stopped; the route goes on".into()));
                        (route.await, None)
                    }
                },
                None => (route.await, None),
            };
            drop(permit);
            match (result, pending) {
                (Ok(done), Some(pending)) => pending.answer(Reply::Exchange(Box::new(done))),
                (Err(e), Some(pending)) => {
                    pending.answer(Reply::Status(http::StatusCode::INTERNAL_SERVER_ERROR, format!("the route failed: {e}")));
                }
                (Err(e), None) => tracing::warn!(plugin = %plugin, "a submitted exchange failed: {e}"),
                (Ok(_), None) => {}
            }
        });
        Ok(SubmitOutcome::Accepted)
    }
}
