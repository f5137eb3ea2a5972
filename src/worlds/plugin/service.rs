//! A plugin endpoint as a tower `Service<Exchange>`, with back-pressure.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::PollSemaphore;

use super::Plugin;
use crate::error::WasmError;
use crate::exchange::Exchange;

/// A tower service that runs exchanges through a [`Plugin`].
///
/// `poll_ready` is pending while `max-concurrent` calls are in flight, so a
/// caller waits for a slot instead of failing, for at most the endpoint's
/// `timeout` ([`WasmError::Busy`] then); `call` uses that slot.
pub struct PluginService {
    plugin: Plugin,
    slots: PollSemaphore,
    permit: Option<OwnedSemaphorePermit>,
    /// Armed while `poll_ready` waits for a slot.
    waiting: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl PluginService {
    pub(crate) fn new(plugin: Plugin, slots: Arc<Semaphore>) -> Self {
        Self { plugin, slots: PollSemaphore::new(slots), permit: None, waiting: None }
    }
}

impl Clone for PluginService {
    fn clone(&self) -> Self {
        Self { plugin: self.plugin.clone(), slots: self.slots.clone(), permit: None, waiting: None }
    }
}

impl tower::Service<Exchange> for PluginService {
    type Response = Exchange;
    type Error = WasmError;
    type Future = Pin<Box<dyn Future<Output = Result<Exchange, WasmError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), WasmError>> {
        // Refuse recursion before waiting for a slot: a nested call on a
        // `max-concurrent=1` endpoint would otherwise wait for its own slot.
        if crate::host::in_guest_call() {
            return Poll::Ready(Err(WasmError::Recursive { plugin: self.plugin.name().to_string() }));
        }
        if self.permit.is_none() {
            match self.slots.poll_acquire(cx) {
                Poll::Ready(permit) => {
                    self.permit = Some(permit.expect("the slot semaphore is never closed"));
                    self.waiting = None;
                }
                Poll::Pending => {
                    let timeout = self.plugin.limits().timeout;
                    let waiting = self.waiting.get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
                    ready!(waiting.as_mut().poll(cx));
                    self.waiting = None;
                    let limits = self.plugin.limits();
                    let plugin = self.plugin.name().to_string();
                    return Poll::Ready(Err(WasmError::Busy { plugin, max_concurrent: limits.max_concurrent, waited: timeout }));
                }
            }
        }
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, exchange: Exchange) -> Self::Future {
        let permit = self.permit.take();
        let plugin = self.plugin.clone();
        Box::pin(async move { plugin.process_with(exchange, permit).await })
    }
}
