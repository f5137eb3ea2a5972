//! Work kept off the callers' path, on one low-priority thread shared by
//! every runtime of the process: dropping spent instances, and making spare
//! instances for `isolation=per-call` endpoints.
//!
//! The thread runs at a lower priority (nice 10 on Linux) than the callers, so
//! on a machine whose cores are all busy with calls it gets little CPU: drops
//! then pile up to [`MAX_PENDING_DROPS`] and callers drop their own instances,
//! and spares are not made, so callers instantiate their own. Both queues are
//! bounded, and the thread keeps nothing alive: a pending refill holds its
//! endpoint weakly. One thread for both keeps an instance's memory allocated
//! and freed on the same thread; it is woken up only when it has run dry, so
//! a burst of calls costs one wake-up, not one per call.

use std::collections::VecDeque;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Condvar, Mutex, MutexGuard, OnceLock, PoisonError, Weak};

/// Values waiting to be dropped at most; past that a caller drops its own (back-pressure).
const MAX_PENDING_DROPS: usize = 64;
/// Values dropped between two spares at most: a spare saves a caller more
/// than a drop, and drops that pile up past the bound are done by callers.
const DROPS_PER_TURN: usize = 1;
/// Refill requests waiting at most (one per endpoint at a time; more are refused).
const MAX_PENDING_REFILLS: usize = 4096;
/// Nice value of the thread (Linux): below the callers' 0.
const NICENESS: i32 = 10;

/// An endpoint that keeps spare instances.
pub(crate) trait Refill: Send + Sync {
    /// Makes one spare instance if the endpoint wants one now; true when it may want another.
    fn refill_one(&self, handle: &tokio::runtime::Handle) -> bool;
}

type Droppable = Box<dyn Send>;
type RefillJob = (Weak<dyn Refill>, tokio::runtime::Handle);

/// The work waiting for the thread.
#[derive(Default)]
struct Pending {
    drops: Vec<Droppable>,
    refills: VecDeque<RefillJob>,
    /// Whether the thread waits for work (and must be woken).
    asleep: bool,
}

impl Pending {
    fn is_empty(&self) -> bool {
        self.drops.is_empty() && self.refills.is_empty()
    }
}

/// The queue and the condition its thread waits on.
struct Worker {
    pending: Mutex<Pending>,
    wake: Condvar,
}

impl Worker {
    fn lock(&self) -> MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Adds work with `add` (which may refuse it); wakes the thread if it sleeps.
    fn push<T>(&self, add: impl FnOnce(&mut Pending) -> Result<(), T>) -> Result<(), T> {
        let mut pending = self.lock();
        add(&mut pending)?;
        if pending.asleep {
            // Only the first item after the thread ran dry pays for a wake-up.
            pending.asleep = false;
            self.wake.notify_one();
        }
        Ok(())
    }

    /// Waits for work, then takes at most one refill and [`DROPS_PER_TURN`] drops.
    fn next(&self) -> (Option<RefillJob>, Vec<Droppable>) {
        let mut pending = self.lock();
        while pending.is_empty() {
            pending.asleep = true;
            pending = self.wake.wait(pending).unwrap_or_else(PoisonError::into_inner);
        }
        pending.asleep = false;
        let turn = pending.drops.len().min(DROPS_PER_TURN);
        let drops = pending.drops.drain(..turn).collect();
        (pending.refills.pop_front(), drops)
    }
}

/// The worker, its thread started on first use (`None` when no thread could start).
fn worker() -> Option<&'static Worker> {
    static WORKER: OnceLock<Option<Worker>> = OnceLock::new();
    WORKER
        .get_or_init(|| {
            let started = std::thread::Builder::new().name("camel-wasm-background".into()).spawn(run).is_ok();
            started.then(|| Worker { pending: Mutex::default(), wake: Condvar::new() })
        })
        .as_ref()
}

#[cfg(target_os = "linux")]
fn lower_priority() {
    // SAFETY: plain syscalls on the calling thread; failure only leaves the priority as it was.
    unsafe {
        let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
        libc::setpriority(libc::PRIO_PROCESS, tid, NICENESS);
    }
}

#[cfg(not(target_os = "linux"))]
fn lower_priority() {}

/// Drops `value` on the background thread, or right here when its queue is full.
pub(crate) fn drop_later<T: Send + 'static>(value: T) {
    let Some(worker) = worker() else {
        return drop(value);
    };
    let refused = worker.push(|pending| {
        if pending.drops.len() >= MAX_PENDING_DROPS {
            return Err(value);
        }
        pending.drops.push(Box::new(value));
        Ok(())
    });
    // Dropped here, outside the queue's lock.
    drop(refused);
}

/// Drops, on the calling thread, everything waiting to be dropped (to free allocator slots now).
pub(crate) fn drop_pending_now() {
    drop_pending_now_count();
}

/// Like [`drop_pending_now`]; how many values it dropped.
pub(crate) fn drop_pending_now_count() -> usize {
    let Some(worker) = worker() else { return 0 };
    let batch = std::mem::take(&mut worker.lock().drops);
    let n = batch.len();
    drop(batch);
    n
}

/// Drops one value waiting to be dropped, on the calling thread (outside the queue's lock); false when none waits.
pub(crate) fn drop_one_pending() -> bool {
    worker().is_some_and(take_one)
}

fn take_one(worker: &Worker) -> bool {
    let value = worker.lock().drops.pop();
    value.is_some()
}

/// Asks the background thread to refill `endpoint`, driving guest code on `handle`'s runtime.
///
/// The caller makes sure an endpoint is queued at most once at a time.
/// Returns false when the request was refused (no thread, or the queue is full).
pub(crate) fn request_refill(endpoint: Weak<dyn Refill>, handle: tokio::runtime::Handle) -> bool {
    let Some(worker) = worker() else { return false };
    worker
        .push(|pending| {
            if pending.refills.len() >= MAX_PENDING_REFILLS {
                return Err(());
            }
            pending.refills.push_back((endpoint, handle));
            Ok(())
        })
        .is_ok()
}

fn run() {
    lower_priority();
    let Some(worker) = worker() else { return };
    loop {
        let (refill, drops) = worker.next();
        if let Some((endpoint, handle)) = refill {
            refill_one(worker, endpoint, handle);
        }
        for value in drops {
            // A value whose drop panics must not take the thread down.
            let _ = catch_unwind(AssertUnwindSafe(move || drop(value)));
        }
    }
}

/// Makes one spare for `endpoint` if it is still alive, and queues it again if it wants more.
fn refill_one(worker: &Worker, endpoint: Weak<dyn Refill>, handle: tokio::runtime::Handle) {
    // A dropped endpoint needs no spares.
    let Some(live) = endpoint.upgrade() else { return };
    // A runtime shut down under a refill panics in `block_on`: the thread must survive it.
    let again = catch_unwind(AssertUnwindSafe(|| live.refill_one(&handle))).unwrap_or(false);
    drop(live);
    if again {
        // Behind other endpoints' refills.
        let _ = worker.push(|pending| {
            pending.refills.push_back((endpoint, handle));
            Ok::<_, ()>(())
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    struct Counted(Arc<AtomicUsize>);

    impl Drop for Counted {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn every_value_handed_over_is_dropped() {
        let dropped = Arc::new(AtomicUsize::new(0));
        for _ in 0..500 {
            drop_later(Counted(dropped.clone()));
        }
        drop_pending_now();
        for _ in 0..2000 {
            if dropped.load(Ordering::SeqCst) == 500 {
                return;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        panic!("only {} of 500 values dropped", dropped.load(Ordering::SeqCst));
    }

    #[test]
    fn a_full_drop_queue_drops_on_the_caller() {
        let worker = Worker { pending: Mutex::default(), wake: Condvar::new() };
        let dropped = Arc::new(AtomicUsize::new(0));
        for _ in 0..MAX_PENDING_DROPS + 3 {
            let value = Counted(dropped.clone());
            let _ = worker.push(|pending| {
                if pending.drops.len() >= MAX_PENDING_DROPS {
                    return Err(value);
                }
                pending.drops.push(Box::new(value));
                Ok(())
            });
        }
        assert_eq!(dropped.load(Ordering::SeqCst), 3, "the refused ones, at once");
        let (refill, drops) = worker.next();
        assert_eq!(drops.len(), DROPS_PER_TURN, "a turn's worth");
        assert!(refill.is_none());
        drop(drops);
        assert_eq!(dropped.load(Ordering::SeqCst), 3 + DROPS_PER_TURN);
    }

    /// Wants three spares.
    struct Spares(AtomicUsize);

    impl Refill for Spares {
        fn refill_one(&self, _handle: &tokio::runtime::Handle) -> bool {
            self.0.fetch_add(1, Ordering::SeqCst) + 1 < 3
        }
    }

    #[test]
    fn a_caller_takes_one_pending_drop_at_a_time() {
        let dropped = Arc::new(AtomicUsize::new(0));
        let worker = Worker { pending: Mutex::default(), wake: Condvar::new() };
        worker.lock().drops.extend((0..2).map(|_| Box::new(Counted(dropped.clone())) as Droppable));
        assert!(take_one(&worker));
        assert_eq!(dropped.load(Ordering::SeqCst), 1, "one dropped here, one left");
        assert!(take_one(&worker));
        assert!(!take_one(&worker), "none left");
        assert_eq!(dropped.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn refills_run_for_live_endpoints_only() {
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let live = Arc::new(Spares(AtomicUsize::new(0)));
        let gone = Arc::new(Spares(AtomicUsize::new(0)));
        let weak_gone = Arc::downgrade(&gone) as Weak<dyn Refill>;
        drop(gone);
        assert!(request_refill(weak_gone, rt.handle().clone()));
        assert!(request_refill(Arc::downgrade(&live) as Weak<dyn Refill>, rt.handle().clone()));
        for _ in 0..2000 {
            if live.0.load(Ordering::SeqCst) == 3 {
                return;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        panic!("the live endpoint was not refilled");
    }
}
