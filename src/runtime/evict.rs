//! Room in the pooling allocator: endpoint shares, slots for instantiation, eviction of idle instances.

use super::{Compiled, Runtime, reload};
use crate::error::WasmError;
use crate::limits::Limits;
use crate::store::background;
use crate::store::slots::{EndpointShare, Exhausted, Parts, SlotGuard};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};
use wasmtime::component::Component;

/// Tries for pool room before a caller's instantiation gives up (about 1 ms apart when nothing can be evicted).
const SLOT_ATTEMPTS: usize = 50;

/// How long an instance may sit idle before it is dropped, unless configured.
pub(crate) const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// What the runtime sees of an endpoint's pool: its idle instances, for eviction across endpoints.
pub(crate) trait IdleInstances: Send + Sync {
    /// When the oldest idle instance went idle.
    fn oldest_idle(&self) -> Option<Instant>;
    /// Drops the oldest idle instance now, freeing its allocator slot; false when none is idle.
    fn evict_oldest(&self) -> bool;
    /// Drops (off the caller's path) instances idle since before `cutoff`.
    fn evict_idle_before(&self, cutoff: Instant);
    /// Whether the endpoint holds more than its reserved share of the pool.
    fn over_share(&self) -> bool;
}

impl Runtime {
    /// Makes the endpoint on `compiled` known for eviction (`idle`) and hot reload (`reload`).
    pub(crate) fn track_endpoint(
        &self,
        compiled: &Arc<Compiled>,
        max_wasm_size: u64,
        idle: Weak<dyn IdleInstances>,
        reload: Weak<dyn reload::Reloadable>,
    ) {
        {
            let mut pools = self.inner.pools.lock().unwrap();
            pools.retain(|p| p.strong_count() > 0);
            pools.push(idle);
        }
        self.inner.reload.track(compiled, max_wasm_size, reload);
    }

    /// What one instance of `component` takes of the pool under `limits`.
    pub(crate) fn footprint(component: &Component, limits: &Limits) -> Parts {
        Parts::of(component, limits.max_instances, limits.max_tables)
    }

    /// Reserves one instance of `component` for a new endpoint of `plugin` (none without pooling).
    pub(crate) fn reserve_share(
        &self,
        plugin: &str,
        component: &Component,
        limits: &Limits,
    ) -> Result<Option<Arc<EndpointShare>>, WasmError> {
        let Some(slots) = &self.inner.slots else { return Ok(None) };
        let footprint = Self::footprint(component, limits);
        // Idle instances holding shared room make way, least recently used first.
        let mut attempt = 0;
        loop {
            let why = match slots.reserve(footprint) {
                Ok(share) => return Ok(Some(Arc::new(share))),
                Err(why) => why,
            };
            let pending = attempt == 0 && background::drop_pending_now_count() > 0;
            attempt += 1;
            if attempt > SLOT_ATTEMPTS || !(pending || self.evict_least_recently_used(true)) {
                return Err(WasmError::NoInstanceSlot { plugin: plugin.to_string(), reason: why.0 });
            }
        }
    }

    /// Room for one instance of `parts` in `share` (none without pooling). When
    /// the pool is full and `may_evict`: instances waiting to be dropped go
    /// first, then the endpoint's own idle ones (`evict_own`), then the least
    /// recently used idle instance of an endpoint past its reservation.
    pub(crate) async fn take_slot(
        &self,
        share: Option<&Arc<EndpointShare>>,
        parts: Parts,
        may_evict: bool,
        evict_own: impl Fn() -> bool,
    ) -> Result<Option<SlotGuard>, Exhausted> {
        let Some(share) = share else { return Ok(None) };
        let mut attempt = 0;
        loop {
            // Only a caller's instantiation (`may_evict`) may take the last room; a spare leaves it.
            let taken = if may_evict { share.take(parts) } else { share.take_leaving_room(parts) };
            let why = match taken {
                Ok(guard) => return Ok(Some(guard)),
                Err(why) => why,
            };
            attempt += 1;
            if !may_evict || attempt > SLOT_ATTEMPTS {
                return Err(why);
            }
            if attempt == 1 {
                background::drop_pending_now();
            } else if !evict_own() && !self.evict_least_recently_used(true) {
                // A drop or a spare the background thread has begun frees its room within moments.
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
    }

    /// The live pools.
    pub(super) fn pools(&self) -> Vec<Arc<dyn IdleInstances>> {
        self.inner.pools.lock().unwrap().iter().filter_map(Weak::upgrade).collect()
    }

    /// Drops instances idle for longer than the idle timeout, at most once a second.
    pub(crate) fn evict_idle_instances(&self) {
        let now = Instant::now();
        {
            let mut last = self.inner.last_sweep.lock().unwrap();
            if now.duration_since(*last) < Duration::from_secs(1) {
                return;
            }
            *last = now;
        }
        if let Some(cutoff) = now.checked_sub(self.inner.idle_timeout) {
            for pool in self.pools() {
                pool.evict_idle_before(cutoff);
            }
        }
    }

    /// Drops the least recently used idle instance of any endpoint; false when none is idle.
    /// With `shared_only`, only of endpoints past their reservation (whose instances hold shared room).
    pub(crate) fn evict_least_recently_used(&self, shared_only: bool) -> bool {
        let pools = self.pools();
        let candidates = pools.iter().filter(|p| !shared_only || p.over_share());
        let oldest = candidates.filter_map(|p| p.oldest_idle().map(|t| (t, p))).min_by_key(|(t, _)| *t);
        oldest.is_some_and(|(_, pool)| pool.evict_oldest())
    }
}
