//! The count of spawned stream writers not yet finished, and [`drained`],
//! which waits for it to reach zero.

use std::cell::{Cell, RefCell};
use std::task::{Poll, Waker};

thread_local! {
    /// The spawned writers that have not finished yet.
    static PENDING_WRITERS: Cell<usize> = const { Cell::new(0) };
    /// The tasks waiting in [`drained`].
    static DRAIN_WAITERS: RefCell<Vec<Waker>> = const { RefCell::new(Vec::new()) };
}

/// Counts one spawned writer from its creation until it is dropped (finished,
/// or its task dropped), then wakes the [`drained`] waiters if it was the last.
pub(crate) struct PendingWriter(());

impl PendingWriter {
    /// Counts one more writer.
    pub(crate) fn new() -> Self {
        PENDING_WRITERS.with(|n| n.set(n.get() + 1));
        PendingWriter(())
    }
}

impl Drop for PendingWriter {
    fn drop(&mut self) {
        let left = PENDING_WRITERS.with(|n| {
            let left = n.get().saturating_sub(1);
            n.set(left);
            left
        });
        if left == 0 {
            for waker in DRAIN_WAITERS.with(|w| w.take()) {
                waker.wake();
            }
        }
    }
}

/// The number of stream bodies made by [`StreamBody::from_fn`](crate::StreamBody::from_fn)
/// (and the helpers built on it) whose writer has not finished yet.
pub fn pending_writers() -> usize {
    PENDING_WRITERS.with(Cell::get)
}

/// Waits until every stream body made by [`StreamBody::from_fn`](crate::StreamBody::from_fn)
/// (and the helpers built on it) has been written out: its end of file and terminal
/// taken by the host, or the host hung up. Returns at once if there is none.
///
/// A source's `run` must not return while a stream it submitted is still
/// draining; the SDK's `run` adapter and [`serve`](crate::serve) await this
/// for you. Awaiting it elsewhere while your own stream body is still unread
/// (e.g. in a plugin's `process`, before returning the body) deadlocks.
pub async fn drained() {
    std::future::poll_fn(|cx| {
        if pending_writers() == 0 {
            Poll::Ready(())
        } else {
            DRAIN_WAITERS.with(|w| {
                let mut waiters = w.borrow_mut();
                if !waiters.iter().any(|x| x.will_wake(cx.waker())) {
                    waiters.push(cx.waker().clone());
                }
            });
            Poll::Pending
        }
    })
    .await
}
