//! The call path: a permit, an instance, the guest call under its deadline, streams both ways, recycle.

use crate::error::WasmError;
use crate::exchange::StreamError;
use crate::host::{guest_scope, in_guest_call};
use crate::limits::Isolation;
use crate::metrics::ErrorKind;
use crate::store::trap;
use crate::store::{REUSE_HANDLE_SLACK, StoreState};
use crate::stream::from_guest::{self, DrainEnd, GuestStream};
use crate::stream::{StreamBounds, Streams, to_guest};
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use tokio::sync::OwnedSemaphorePermit;
use wasmtime::Store;

use super::idle::discard;
use super::{Answer, Call, CallOutput, Instance, Pool, Request, World};
use crate::bindings::WasmExchange;

impl<W: World> Pool<W> {
    /// Makes `call`: the guest sees its properties through `get-property` and
    /// reads its streams as the stream bodies of its exchange.
    ///
    /// Uses the call's permit when the caller already holds a call slot, else waits for one.
    /// A stream body the guest returns keeps the instance and the slot until it
    /// has drained; the instance is reused only when it ended cleanly.
    ///
    /// Each call is a `wasm_call` span (plugin, world, method, correlation and
    /// route ids), is counted in the endpoint's metrics, and moves its health.
    pub(crate) async fn call(self: &Arc<Self>, call: Call<W::Request>) -> Result<CallOutput<W::Answer>, WasmError> {
        let started = Instant::now();
        let method = call.request.label().cloned();
        let span = tracing::info_span!(
            "wasm_call",
            plugin = %self.plugin,
            world = W::NAME,
            method = method.as_deref().unwrap_or_default(),
            correlation_id = %call.exchange.correlation_id,
            route_id = call.exchange.route_id.as_deref().unwrap_or_default(),
        );
        // Boxed: the call's future is kilobytes (wasmtime's concurrent call inside), and each
        // async layer above would otherwise copy all of it when it starts.
        let run: std::pin::Pin<Box<dyn Future<Output = _> + Send + '_>> = Box::pin(self.run_call(started, call));
        let outcome = tracing::Instrument::instrument(run, span).await;
        let kind = match &outcome {
            Err(error) => {
                self.health.record(Some(error));
                Some(ErrorKind::of(error))
            }
            // The guest answered with its own error: counted, but it says nothing of health.
            Ok(out) if out.output.as_ref().is_err() || out.output.as_ref().is_ok_and(Answer::failed) => Some(ErrorKind::Guest),
            Ok(_) => {
                self.health.record(None);
                None
            }
        };
        self.metrics.call(method.as_deref(), started.elapsed(), kind);
        outcome
    }

    pub(super) async fn run_call(
        self: &Arc<Self>,
        started: Instant,
        call: Call<W::Request>,
    ) -> Result<CallOutput<W::Answer>, WasmError> {
        let Call { request, mut exchange, properties, streams, permit } = call;
        if in_guest_call() {
            return Err(WasmError::Recursive { plugin: self.plugin.to_string() });
        }
        // The deadline runs from when the call has its slot.
        let (permit, slotted) = match permit {
            Some(permit) => (permit, started),
            None => match self.permits.clone().try_acquire_owned() {
                // A free slot: no wait, and no clock read to time it.
                Ok(permit) => {
                    self.metrics.slot_wait(Duration::ZERO);
                    (permit, started)
                }
                Err(_) => {
                    // Waiting for a slot is bounded by the call's timeout too.
                    let waiting = Instant::now();
                    let Ok(permit) = tokio::time::timeout(self.limits.timeout, self.acquire()).await else {
                        self.metrics.slot_wait(waiting.elapsed());
                        return Err(self.busy());
                    };
                    let slotted = Instant::now();
                    self.metrics.slot_wait(slotted - waiting);
                    (permit, slotted)
                }
            },
        };
        // A call that needs no timer nor wait for a slot passes no other tokio
        // resource: this keeps a caller looping on calls yielding to the other
        // tasks of its worker now and then (tokio's cooperative budget).
        tokio::task::consume_budget().await;
        let deadline = self.limits.deadline_from(slotted);
        let mut checked_out = self.checkout();
        let _active = (self.limits.isolation == Isolation::PerCall).then(super::idle::PerCallActive::enter);
        if self.limits.isolation == Isolation::PerCall {
            self.want_spares();
            if checked_out.is_none() {
                checked_out = self.await_spare();
            }
        }
        let mut instance = match checked_out {
            Some(instance) => instance,
            // Boxed so the rare instantiation does not bloat every call's future.
            None => Box::pin(guest_scope(self.instantiate(deadline, true))).await?,
        };
        let state = instance.store.data_mut();
        state.arm(deadline);
        state.host.begin_call(properties);
        if let Err(err) = self.attach_streams(&mut instance.store, &mut exchange, streams) {
            let err = trap::classify(&self.plugin, &self.limits, err, instance.store.data());
            discard(instance);
            return Err(err);
        }
        let run = guest_call::<W>(&instance.bindings, &mut instance.store, &request, exchange);
        let outcome = guest_scope(until_deadline(deadline, run)).await;
        let mut output = match self.settle(outcome, instance.store.data()) {
            Ok(output) => output,
            Err(err) => {
                discard(instance);
                return Err(err);
            }
        };
        let set = instance.store.data_mut().host.end_call();
        instance.calls += 1;
        let returned = match output.as_mut().ok().and_then(Answer::exchange) {
            Some(exchange) => from_guest::take_returned(&mut instance.store, exchange),
            None => Ok(None),
        };
        match returned {
            Ok(None) => {
                self.recycle(instance);
                Ok(CallOutput { output, set, returned: None })
            }
            Ok(Some(stream)) => {
                let returned = stream.returned();
                self.clone().spawn_drain(instance, stream, permit);
                Ok(CallOutput { output, set, returned: Some(returned) })
            }
            Err(reason) => {
                discard(instance);
                Err(WasmError::InvalidOutput { plugin: self.plugin.to_string(), reason })
            }
        }
    }

    /// Hands the host stream bodies of a call to the guest's store.
    pub(super) fn attach_streams(
        &self,
        store: &mut Store<StoreState>,
        exchange: &mut WasmExchange,
        streams: Streams,
    ) -> wasmtime::Result<()> {
        if streams.is_empty() {
            return Ok(());
        }
        let bounds = StreamBounds::new(self.plugin.clone(), &self.limits).counting(self.metrics.stream_counter(true));
        to_guest::attach(store, exchange, streams, &bounds)
    }

    /// Gives an instance back after a call, unless guest tasks outlived the call:
    /// those would run (and write, or trap) during the next one.
    pub(super) fn recycle(&self, mut instance: Instance<W>) {
        let leaked = |i: &mut Instance<W>| i.store.data_mut().live_handles() > i.settled_handles + REUSE_HANDLE_SLACK;
        if instance.store.concurrent_state_table_size() > instance.settled_tasks || leaked(&mut instance) {
            discard(instance);
        } else {
            self.give_back(instance);
        }
    }

    /// Drains a returned stream on its own task, which owns the instance and the call slot.
    pub(super) fn spawn_drain(self: Arc<Self>, mut instance: Instance<W>, stream: GuestStream, permit: OwnedSemaphorePermit) {
        self.draining.fetch_add(1, Ordering::AcqRel);
        let bounds = StreamBounds::new(self.plugin.clone(), &self.limits).counting(self.metrics.stream_counter(false));
        let task = async move {
            let (end, sender) = from_guest::drain(&mut instance.store, stream, &bounds).await;
            let failure = match end {
                DrainEnd::Clean => {
                    self.let_guest_tasks_finish(&mut instance).await;
                    self.recycle(instance);
                    None
                }
                DrainEnd::Cancelled => {
                    discard(instance);
                    None
                }
                DrainEnd::Failed(error) => {
                    discard(instance);
                    Some(error)
                }
                DrainEnd::Wasm(err) => {
                    let error = if instance.store.data().timed_out {
                        StreamError::Idle { plugin: self.plugin.to_string(), timeout: bounds.idle_timeout }
                    } else {
                        StreamError::Plugin(trap::classify(&self.plugin, &self.limits, err, instance.store.data()))
                    };
                    discard(instance);
                    Some(error)
                }
            };
            drop(permit);
            self.draining.fetch_sub(1, Ordering::AcqRel);
            if let Some(error) = failure {
                from_guest::report(&sender, error).await;
            }
        };
        tokio::spawn(guest_scope(task));
    }

    /// Lets the guest's writer task, which resolved the terminal future, run to its end.
    pub(super) async fn let_guest_tasks_finish(&self, instance: &mut Instance<W>) {
        for _ in 0..8 {
            if instance.store.concurrent_state_table_size() <= instance.settled_tasks {
                return;
            }
            let turn = instance.store.run_concurrent(async |_| tokio::task::yield_now().await);
            if tokio::time::timeout(Duration::from_millis(50), turn).await.is_err() {
                return;
            }
        }
    }

    /// Runs `f` on a fresh instance whose `init` has not run, then drops it (used at load).
    pub(crate) async fn with_fresh_instance<R>(
        &self,
        f: impl AsyncFnOnce(&W::Bindings, &mut Store<StoreState>) -> wasmtime::Result<R>,
    ) -> Result<R, WasmError> {
        let pre = self.current_pre();
        self.with_fresh_instance_of(&pre, f).await
    }

    /// Like [`with_fresh_instance`](Self::with_fresh_instance), on version `pre`
    /// (a hot reload's candidate, before it is swapped in).
    pub(crate) async fn with_fresh_instance_of<R>(
        &self,
        pre: &W::Pre,
        f: impl AsyncFnOnce(&W::Bindings, &mut Store<StoreState>) -> wasmtime::Result<R>,
    ) -> Result<R, WasmError> {
        let deadline = self.limits.deadline_from(Instant::now());
        let mut store = self.new_store(deadline);
        let run = async {
            let bindings = self.instantiate_pre_in(pre, &mut store, true).await?;
            f(&bindings, &mut store).await
        };
        let outcome = tokio::time::timeout_at(deadline.into(), run).await;
        self.settle(outcome, store.data())
    }
}

/// A guest call in flight: the guest's answer or its error, or a trap.
type GuestCall<'a, A> =
    std::pin::Pin<Box<dyn Future<Output = wasmtime::Result<Result<A, crate::bindings::WasmError>>> + Send + 'a>>;

/// The guest call, boxed where it is made: it is large, and made in an `async fn` it would
/// also take room in that function's future and be copied out of it.
#[inline(never)]
fn guest_call<'a, W: World>(
    bindings: &'a W::Bindings,
    store: &'a mut Store<StoreState>,
    request: &'a W::Request,
    exchange: WasmExchange,
) -> GuestCall<'a, W::Answer> {
    Box::pin(W::call(bindings, store, request, exchange))
}

/// Runs `work` until `deadline`: an elapsed deadline is `Err(Elapsed)`.
///
/// The timer is armed only if `work` does not finish on its first poll: most
/// guest calls run to their end without waiting on the host, and the store's
/// epoch deadline already stops a guest that computes past `deadline`.
pub(super) async fn until_deadline<F: Future + Unpin>(
    deadline: Instant,
    mut work: F,
) -> Result<F::Output, tokio::time::error::Elapsed> {
    use std::task::Poll;
    let first = std::future::poll_fn(|cx| Poll::Ready(std::pin::Pin::new(&mut work).poll(cx))).await;
    match first {
        Poll::Ready(output) => Ok(output),
        Poll::Pending => tokio::time::timeout_at(deadline.into(), work).await,
    }
}
