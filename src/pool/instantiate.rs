//! Making instances: a store under the endpoint's limits, a slot in the pool, `init`, and typed outcomes.

use crate::error::WasmError;
use crate::host::HostCtx;
use crate::runtime::Runtime;
use crate::store::background::{self};
use crate::store::trap;
use crate::store::{GuestLimiter, StoreState, new_store};
use std::time::Instant;
use wasmtime::{PoolConcurrencyLimitError, Store};

use super::{IdleInstances, Instance, LiveInstance, Pool, World};

/// Attempts to free an allocator slot (by evicting idle instances) before an instantiation gives up.
const EVICTION_RETRIES: usize = 16;

impl<W: World> Pool<W> {
    pub(super) fn new_store(&self, deadline: Instant) -> Store<StoreState> {
        let endpoints = self.runtime.endpoints().clone();
        let (allowlist, bounds) = (self.allowlist.clone(), self.limits.property_bounds());
        let mut host = HostCtx::new(endpoints, allowlist, W::MAY_CALL, self.state.clone(), bounds);
        host.denied = self.metrics.denied_counter();
        let mut store = new_store(self.runtime.engine(), StoreState::new(host, GuestLimiter::new(&self.limits)));
        store.data_mut().arm(deadline);
        store
    }

    /// Instantiates in `store`; when the pooling allocator is out of slots,
    /// evicts the least recently used idle instance of any endpoint and tries
    /// again, if `may_evict` (a spare never evicts).
    pub(super) async fn instantiate_in(&self, store: &mut Store<StoreState>, may_evict: bool) -> wasmtime::Result<W::Bindings> {
        let pre = self.current_pre();
        self.instantiate_pre_in(&pre, store, may_evict).await
    }

    /// Like [`instantiate_in`](Self::instantiate_in), of version `pre`.
    pub(super) async fn instantiate_pre_in(
        &self,
        pre: &W::Pre,
        store: &mut Store<StoreState>,
        may_evict: bool,
    ) -> wasmtime::Result<W::Bindings> {
        self.runtime.evict_idle_instances();
        if store.data().slot.is_none() {
            let parts = Runtime::footprint(W::component(pre), &self.limits);
            let evict_own = || IdleInstances::evict_oldest(self);
            store.data_mut().slot = self.runtime.take_slot(self.share.as_ref(), parts, may_evict, evict_own).await?;
        }
        let mut attempt = 0;
        loop {
            match W::instantiate(pre, store).await {
                Err(e) if may_evict && e.is::<PoolConcurrencyLimitError>() && attempt < EVICTION_RETRIES => {
                    attempt += 1;
                    if attempt == 1 {
                        // Instances waiting for the background thread still hold their slots.
                        background::drop_pending_now();
                        continue;
                    }
                    if !self.runtime.evict_least_recently_used(false) {
                        return Err(e.context(
                            "every instance slot of the runtime is in use by calls in flight \
                             (raise RuntimeBuilder::max_instances, or lower max-concurrent)",
                        ));
                    }
                }
                other => return other,
            }
        }
    }

    /// A new instance with its `init` run; an `init` failure is the call's error.
    /// Only a caller's instantiation (`may_evict`) evicts idle instances for a slot.
    pub(super) async fn instantiate(&self, deadline: Instant, may_evict: bool) -> Result<Instance<W>, WasmError> {
        // Read before the version is: at worst a new instance is tagged stale and not reused.
        let generation = self.generation();
        let mut store = self.new_store(deadline);
        let setup = async {
            let bindings = self.instantiate_in(&mut store, may_evict).await?;
            let init = W::init(&bindings, &mut store, &self.config).await?;
            Ok::<_, wasmtime::Error>((bindings, init))
        };
        let outcome = tokio::time::timeout_at(deadline.into(), setup).await;
        match self.settle(outcome, store.data())? {
            (bindings, Ok(())) => {
                let settled_tasks = store.concurrent_state_table_size();
                let settled_handles = store.data_mut().live_handles();
                self.metrics.instantiated();
                let _live = LiveInstance(self.metrics.live.clone());
                let idle_since = Instant::now();
                Ok(Instance {
                    store,
                    bindings,
                    calls: 0,
                    idle_since,
                    settled_tasks,
                    settled_handles,
                    generation,
                    thread: 0,
                    _live,
                })
            }
            (_, Err(message)) => Err(WasmError::InitFailed { plugin: self.plugin.to_string(), message }),
        }
    }

    /// The typed result of guest work run under the deadline (see [`trap::settle`]).
    pub(super) fn settle<T>(
        &self,
        outcome: Result<wasmtime::Result<T>, tokio::time::error::Elapsed>,
        state: &StoreState,
    ) -> Result<T, WasmError> {
        trap::settle(&self.plugin, &self.limits, outcome, state)
    }
}
