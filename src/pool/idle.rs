//! Idle instances: checkout and give back, spares for `isolation=per-call`, eviction for the runtime.

use crate::error::WasmError;
use crate::host::guest_scope;
use crate::limits::Isolation;
use crate::store::background::{self, Refill};
use ::metrics::Gauge;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use super::{IdleInstances, Instance, Pool, World};

/// Fresh instances an `isolation=per-call` endpoint keeps ready (made off the callers' path).
const SPARES: usize = 2;

/// Longest a spare's instantiation and `init` may take on the background thread
/// (within the call `timeout`), so that one slow endpoint delays others' spares at most this.
const SPARE_DEADLINE: Duration = Duration::from_secs(1);

/// Longest a caller that found no spare waits for one the background thread is making.
const SPARE_WAIT: Duration = Duration::from_micros(25);

/// `isolation=per-call` calls under way in this process, of every endpoint.
static PER_CALL_ACTIVE: AtomicUsize = AtomicUsize::new(0);

/// One `isolation=per-call` call under way, counted in [`PER_CALL_ACTIVE`] until dropped.
pub(super) struct PerCallActive(());

impl PerCallActive {
    pub(super) fn enter() -> Self {
        PER_CALL_ACTIVE.fetch_add(1, Ordering::Relaxed);
        Self(())
    }
}

impl Drop for PerCallActive {
    fn drop(&mut self) {
        PER_CALL_ACTIVE.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Whether a caller should wait for a spare: only while a core is left for the
/// background thread making it. With every core running a per-call caller, the
/// low-priority thread gets next to no time, and a waiting caller would spin its
/// whole [`SPARE_WAIT`] and then instantiate anyway.
fn spare_worth_waiting_for(active: usize, cores: usize) -> bool {
    active < cores
}

/// Cores this process may run on (read once).
fn cores() -> usize {
    static CORES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, usize::from))
}

/// How long an endpoint whose spare ran past [`SPARE_DEADLINE`] makes no spares (its callers instantiate their own).
const SPARE_BACKOFF: Duration = Duration::from_secs(30);

impl<W: World> Pool<W> {
    /// The newest idle instance of the current version that this thread gave back,
    /// else the newest; stale ones met on the way are dropped.
    ///
    /// Handing a caller back its own instance keeps the instance's memory in the
    /// cache of the core that used it: with two callers taking whichever is newest,
    /// every other call would pull a store and its linear memory across cores.
    pub(super) fn checkout(&self) -> Option<Instance<W>> {
        let mut idle = self.idle.lock().unwrap();
        let generation = self.generation();
        let me = thread_tag();
        let newest_own = idle.instances.iter().rev().take(AFFINITY_SCAN).position(|i| i.thread == me);
        let len = idle.len();
        let mut own = newest_own.and_then(|back| idle.remove(len - 1 - back));
        while let Some(instance) = own.take().or_else(|| idle.pop_back()) {
            // A per-call endpoint's idle instances are spares no exchange has used.
            let fresh_enough = self.limits.isolation == Isolation::Reuse || instance.calls == 0;
            if instance.generation == generation && fresh_enough {
                return Some(instance);
            }
            discard(instance);
        }
        None
    }

    /// Keeps an instance for the next call, unless it is spent or of a version swapped out.
    pub(super) fn give_back(&self, mut instance: Instance<W>) {
        let reuse = self.limits.isolation == Isolation::Reuse && instance.calls < self.limits.recycle_after;
        if reuse {
            // Under the idle lock, which `swap` holds too: a stale instance never goes back.
            let mut idle = self.idle.lock().unwrap();
            if instance.generation == self.generation() {
                instance.idle_since = Instant::now();
                instance.thread = thread_tag();
                idle.push_back(instance);
                return;
            }
        }
        discard(instance);
    }
}

/// Spare instances of `isolation=per-call` endpoints.
impl<W: World> Pool<W> {
    /// Fresh instances this endpoint keeps ready.
    pub(super) fn spares_wanted(&self) -> usize {
        SPARES.min(self.limits.max_concurrent)
    }

    /// Queues a refill of the spares on the background thread, unless one is queued
    /// already or there is no multi-threaded tokio runtime to run guest code on.
    pub(super) fn want_spares(self: &Arc<Self>) {
        let Ok(handle) = tokio::runtime::Handle::try_current() else { return };
        // On a current-thread runtime only its own thread drives timers and I/O.
        if handle.runtime_flavor() != tokio::runtime::RuntimeFlavor::MultiThread || self.refilling.swap(true, Ordering::AcqRel) {
            return;
        }
        if !background::request_refill(Arc::downgrade(self) as Weak<dyn Refill>, handle) {
            self.refilling.store(false, Ordering::Release);
        }
    }

    /// Whether another spare should be made now: fewer than wanted, and a call
    /// slot free (callers at `max-concurrent` would not use it before one ends).
    pub(super) fn needs_spare(&self) -> bool {
        let paused = self.spares_paused_until.lock().unwrap().is_some_and(|until| Instant::now() < until);
        !paused && self.permits.available_permits() > 0 && self.idle.lock().unwrap().len() < self.spares_wanted()
    }

    /// Keeps a new spare, unless the version changed while it was made.
    pub(super) fn keep_spare(&self, instance: Instance<W>) -> bool {
        let mut idle = self.idle.lock().unwrap();
        self.making_spare.store(false, Ordering::Release);
        if instance.generation != self.generation() || idle.len() >= self.spares_wanted() {
            drop(idle);
            discard(instance);
            return false;
        }
        idle.push_back(instance);
        drop(idle);
        self.spares_kept.fetch_add(1, Ordering::AcqRel);
        true
    }

    /// A spare the background thread is about to finish, waited for (spinning) at most [`SPARE_WAIT`]:
    /// cheaper than a second instantiation on this core, next to the one on the other.
    ///
    /// While it waits it takes one drop off the background thread's queue, so that
    /// thread gets to the spare sooner and the two cores share an exchange's work.
    pub(super) fn await_spare(&self) -> Option<Instance<W>> {
        if !spare_worth_waiting_for(PER_CALL_ACTIVE.load(Ordering::Relaxed), cores()) {
            return None;
        }
        let start = Instant::now();
        let mut stolen = false;
        loop {
            let seen = self.spares_kept.load(Ordering::Acquire);
            loop {
                let pending = self.making_spare.load(Ordering::Acquire) || self.refilling.load(Ordering::Acquire);
                if !pending || start.elapsed() > SPARE_WAIT {
                    // One kept just now may have cleared the flags.
                    return self.checkout();
                }
                if self.spares_kept.load(Ordering::Acquire) != seen {
                    break;
                }
                if !stolen && background::drop_one_pending() {
                    stolen = true;
                } else {
                    std::hint::spin_loop();
                }
            }
            if let Some(instance) = self.checkout() {
                return Some(instance);
            }
        }
    }
}

impl<W: World> Refill for Pool<W> {
    fn refill_one(&self, handle: &tokio::runtime::Handle) -> bool {
        // Cleared first: a call that takes a spare meanwhile queues another refill.
        // (Making is set before, so that a waiting caller sees one or the other.)
        self.making_spare.store(true, Ordering::Release);
        self.refilling.store(false, Ordering::Release);
        if !self.needs_spare() {
            self.making_spare.store(false, Ordering::Release);
            return false;
        }
        let now = Instant::now();
        let deadline = self.limits.deadline_from(now).min(now + SPARE_DEADLINE);
        // A failing `init` fails the next call instead, on the caller's path.
        let made = handle.block_on(guest_scope(self.instantiate(deadline, false)));
        let instance = match made {
            Ok(instance) => instance,
            Err(error) => {
                self.making_spare.store(false, Ordering::Release);
                if matches!(error, WasmError::Timeout { .. }) {
                    tracing::warn!(plugin = %self.plugin, "a spare instance took over {SPARE_DEADLINE:?} to start; no spares for {SPARE_BACKOFF:?}");
                    *self.spares_paused_until.lock().unwrap() = Some(Instant::now() + SPARE_BACKOFF);
                }
                return false;
            }
        };
        // Queued again only if no call queued it meanwhile.
        self.keep_spare(instance) && self.needs_spare() && !self.refilling.swap(true, Ordering::AcqRel)
    }
}

impl<W: World> IdleInstances for Pool<W> {
    fn oldest_idle(&self) -> Option<Instant> {
        self.idle.lock().unwrap().instances.front().map(|i| i.idle_since)
    }

    fn evict_oldest(&self) -> bool {
        let oldest = self.idle.lock().unwrap().pop_front();
        // Dropped here, not off the path: the caller needs the slot back now.
        oldest.is_some()
    }

    fn over_share(&self) -> bool {
        self.share.as_ref().is_some_and(|s| s.is_over())
    }

    fn evict_idle_before(&self, cutoff: Instant) {
        let expired: Vec<Instance<W>> = {
            let mut idle = self.idle.lock().unwrap();
            let keep_from = idle.instances.iter().position(|i| i.idle_since >= cutoff).unwrap_or(idle.len());
            idle.drain_front(keep_from)
        };
        for instance in expired {
            discard(instance);
        }
    }
}

/// Idle instances, oldest first, each counted in `camel_wasm_instances_idle` while it is here
/// (by increments, so the endpoints of one file add up, and a dropped endpoint takes its share away).
pub(super) struct IdleQueue<W: World> {
    instances: VecDeque<Instance<W>>,
    gauge: Gauge,
}

impl<W: World> IdleQueue<W> {
    pub(super) fn new(gauge: Gauge) -> Self {
        Self { instances: VecDeque::new(), gauge }
    }

    pub(super) fn len(&self) -> usize {
        self.instances.len()
    }

    pub(super) fn push_back(&mut self, instance: Instance<W>) {
        self.gauge.increment(1.0);
        self.instances.push_back(instance);
    }

    pub(super) fn pop_back(&mut self) -> Option<Instance<W>> {
        let taken = self.instances.pop_back();
        self.left(taken)
    }

    pub(super) fn pop_front(&mut self) -> Option<Instance<W>> {
        let taken = self.instances.pop_front();
        self.left(taken)
    }

    pub(super) fn remove(&mut self, at: usize) -> Option<Instance<W>> {
        let taken = self.instances.remove(at);
        self.left(taken)
    }

    /// The `n` oldest (all of them with `usize::MAX`).
    pub(super) fn drain_front(&mut self, n: usize) -> Vec<Instance<W>> {
        let taken: Vec<_> = self.instances.drain(..n.min(self.instances.len())).collect();
        self.gauge.decrement(taken.len() as f64);
        taken
    }

    fn left(&self, taken: Option<Instance<W>>) -> Option<Instance<W>> {
        if taken.is_some() {
            self.gauge.decrement(1.0);
        }
        taken
    }
}

impl<W: World> Drop for IdleQueue<W> {
    fn drop(&mut self) {
        self.gauge.decrement(self.instances.len() as f64);
    }
}

/// How many of the newest idle instances [`Pool::checkout`] looks through for the caller's own.
const AFFINITY_SCAN: usize = 8;

/// A number naming the current thread (from 1), to give a caller back the instance it used.
pub(super) fn thread_tag() -> u32 {
    static NEXT: AtomicU32 = AtomicU32::new(1);
    thread_local!(static TAG: u32 = NEXT.fetch_add(1, Ordering::Relaxed));
    TAG.with(|tag| *tag)
}

/// Drops an instance off the caller's path (on the background thread).
pub(super) fn discard<W: World>(instance: Instance<W>) {
    drop_off_path(instance);
}

fn drop_off_path<T: Send + 'static>(value: T) {
    background::drop_later(value);
}

#[cfg(test)]
mod tests {
    use super::spare_worth_waiting_for;

    #[test]
    fn callers_wait_for_a_spare_only_while_a_core_is_left_to_make_it() {
        assert!(spare_worth_waiting_for(1, 2));
        assert!(!spare_worth_waiting_for(2, 2), "both cores run callers: the background thread gets next to no time");
        assert!(!spare_worth_waiting_for(1, 1));
        assert!(spare_worth_waiting_for(3, 4));
    }
}
