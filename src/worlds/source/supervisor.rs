//! One guest instance at a time: configure it, run it, and when `run` fails,
//! answer what it left with 503, report, back off and start a fresh instance.

use std::sync::Arc;
use std::time::{Duration, Instant};

use wasmtime::Store;
use wasmtime::component::Resource;

use super::Source;
use super::bindings::{Bindings, CapabilityRequest, ConcurrencyModel, SourcePlan};
use crate::bindings::ListenerHandle;
use crate::error::WasmError;
use crate::host::HostCtx;
use crate::runtime::Runtime;
use crate::source::SourceError;
use crate::source::shared::{Reply, Shared};
use crate::state::SharedState;
use crate::store::{GuestLimiter, StoreState, new_store, trap};

/// The first restart waits this long; each next one twice as long.
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
/// The longest wait between restarts.
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// A run that lasted this long resets the back-off.
const HEALTHY_RUN: Duration = Duration::from_secs(10);

/// What a source guest's plan asks for, checked: one HTTP listener.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenerPlan {
    /// The address it asks to listen on.
    pub bind: String,
    /// The one path it serves, or every path.
    pub path: Option<String>,
    /// Requests it takes at once (1: sequential).
    pub concurrency: usize,
}

impl std::fmt::Display for ListenerPlan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let path = self.path.as_deref().unwrap_or("every path");
        match self.concurrency {
            1 => write!(f, "one http-listener on {} ({path}), sequential", self.bind),
            n => write!(f, "one http-listener on {} ({path}), {n} requests at once", self.bind),
        }
    }
}

/// The guest of a running source, and its current instance.
pub(crate) struct Guest {
    source: Source,
    shared: Arc<Shared>,
    config: Vec<(String, String)>,
    instance: Option<(Store<StoreState>, Bindings)>,
    plan: Option<ListenerPlan>,
    /// The source's `host-store` state: kept across restarts of the guest.
    state: SharedState,
}

impl Guest {
    pub(crate) fn new(source: Source, shared: Arc<Shared>, config: Vec<(String, String)>) -> Self {
        let state = source.runtime.state_for(&source.plugin, &source.limits);
        Self { source, shared, config, instance: None, plan: None, state }
    }

    fn plugin(&self) -> String {
        self.source.plugin.to_string()
    }

    /// A fresh instance, `configure`d, with its plan checked (and, after a restart, unchanged).
    pub(crate) async fn configure(&mut self) -> Result<ListenerPlan, SourceError> {
        let limits = &self.source.limits;
        let host = HostCtx::new(
            self.source.runtime.endpoints().clone(),
            Arc::new(Default::default()),
            false,
            self.state.clone(),
            limits.property_bounds(),
        );
        let mut state = StoreState::new(host, GuestLimiter::new(limits));
        state.source.serve(self.shared.clone());
        let runtime = &self.source.runtime;
        let parts = Runtime::footprint(self.source.pre.instance_pre().component(), limits);
        // A restart waits for nothing: the old instance's room is given back first.
        state.slot = runtime
            .take_slot(self.source.share.as_ref(), parts, true, || false)
            .await
            .map_err(|e| SourceError::Configure { plugin: self.plugin(), reason: e.to_string() })?;
        let mut store = new_store(runtime.engine(), state);
        store.data_mut().arm(limits.deadline_from(Instant::now()));
        let setup = async {
            let bindings = self.source.pre.instantiate_async(&mut store).await?;
            let plan = bindings.call_configure(&mut store, &self.config).await?;
            Ok::<_, wasmtime::Error>((bindings, plan))
        };
        let outcome = tokio::time::timeout(limits.timeout, setup).await;
        let (bindings, plan) = trap::settle(&self.source.plugin, limits, outcome, store.data())?;
        let plan = match plan {
            Ok(plan) => check(&self.plugin(), plan)?,
            Err(e) => return Err(SourceError::Configure { plugin: self.plugin(), reason: format!("{e:?}") }),
        };
        if let Some(first) = &self.plan
            && first != &plan
        {
            return Err(SourceError::Plan {
                plugin: self.plugin(),
                reason: format!("the plan changed on restart: {first:?}, then {plan:?}"),
            });
        }
        self.plan = Some(plan.clone());
        self.instance = Some((store, bindings));
        Ok(plan)
    }

    /// Runs the configured instance's `run` until it ends; `Err` says why it failed.
    async fn run(&mut self) -> Result<(), WasmError> {
        let Some((mut store, bindings)) = self.instance.take() else {
            return Err(self.failed("no instance is configured"));
        };
        // A source runs until stopped: no call deadline (stop interrupts a guest that will not end).
        let forever = Instant::now() + crate::limits::Limits::MAX_TIMEOUT / 2;
        store.data_mut().arm(forever);
        let listener = Resource::<ListenerHandle>::new_borrow(0);
        let ran = store.run_concurrent(async |a| bindings.call_run(a, listener).await).await.and_then(|run| run);
        let outcome = trap::settle(&self.source.plugin, &self.source.limits, Ok(ran), store.data())
            .and_then(|returned| returned.map_err(|error| WasmError::from_guest(&self.source.plugin, error)));
        crate::store::discard(store);
        outcome
    }

    /// A failure of the supervisor's own, naming the plugin.
    fn failed(&self, message: &str) -> WasmError {
        WasmError::Runtime { plugin: self.plugin(), message: message.to_string() }
    }
}

/// The plan as this host grants it: exactly one http-listener.
fn check(plugin: &str, plan: SourcePlan) -> Result<ListenerPlan, SourceError> {
    let refuse = |reason: String| SourceError::Plan { plugin: plugin.to_string(), reason };
    let [CapabilityRequest::HttpListener(spec)] = plan.capabilities.as_slice() else {
        return Err(refuse(format!("it must ask for exactly one http-listener, not {} capabilities", plan.capabilities.len())));
    };
    if let Some(path) = &spec.path
        && !path.starts_with('/')
    {
        return Err(refuse(format!("the listener path '{path}' must start with '/'")));
    }
    let concurrency = match plan.concurrency {
        ConcurrencyModel::Sequential => 1,
        ConcurrencyModel::Concurrent(0) => return Err(refuse("concurrent(0) allows no request".into())),
        ConcurrencyModel::Concurrent(n) => usize::from(n),
    };
    Ok(ListenerPlan { bind: spec.bind.clone(), path: spec.path.clone(), concurrency })
}

/// Runs the guest until the source stops, restarting it with back-off when `run` fails.
pub(crate) async fn supervise(mut guest: Guest) {
    let mut backoff = FIRST_BACKOFF;
    loop {
        let started = Instant::now();
        let outcome = guest.run().await;
        if guest.shared.cancel.is_cancelled() {
            return;
        }
        let failure = match outcome {
            Ok(()) => guest.failed("run returned before the source was stopped"),
            Err(failure) => failure,
        };
        guest.shared.record_failure(failure);
        // The reason is the operator's (logs, health, `last_failure`), not the client's.
        guest.shared.answer_pending(http::StatusCode::SERVICE_UNAVAILABLE, "the source's guest failed; it is restarted");
        if started.elapsed() >= HEALTHY_RUN {
            backoff = FIRST_BACKOFF;
        }
        loop {
            tokio::select! {
                () = tokio::time::sleep(backoff) => {}
                () = guest.shared.cancel.cancelled() => return,
            }
            backoff = (backoff * 2).min(MAX_BACKOFF);
            guest.shared.restarts.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            match guest.configure().await {
                Ok(_) => break,
                Err(SourceError::Wasm(failure)) => guest.shared.record_failure(failure),
                Err(e) => guest.shared.record_error(e.to_string()),
            }
        }
    }
}

/// Answers every request still queued for the guest with 503 (the source stopped).
pub(crate) async fn refuse_queued(shared: &Shared) {
    let mut requests = shared.requests.lock().await;
    requests.close();
    while let Ok(incoming) = requests.try_recv() {
        let _ = incoming.reply.send(Reply::Status(http::StatusCode::SERVICE_UNAVAILABLE, "the source stopped".into()));
    }
}
