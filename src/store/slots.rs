//! The pooling allocator's slots, shared so that one endpoint cannot starve another.
//!
//! Each endpoint reserves room for one instance of its component when it is
//! made (its *share*); the rest of the pool is shared first come. An endpoint
//! past its reservation takes from the shared rest only, so a guest that
//! declares many memories or tables exhausts at most the shared rest and its
//! own reservation, never another endpoint's.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use wasmtime::component::Component;

/// Pooled parts one instance takes: a component instance, its memories and its tables.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Parts {
    pub(crate) instances: u64,
    pub(crate) memories: u64,
    pub(crate) tables: u64,
}

impl Parts {
    /// What one instance of `component` takes; the per-guest ceilings when wasmtime cannot tell.
    pub(crate) fn of(component: &Component, max_memories: u32, max_tables: u32) -> Self {
        match component.resources_required() {
            Some(r) => Self { instances: 1, memories: r.num_memories.into(), tables: r.num_tables.into() },
            None => Self { instances: 1, memories: max_memories.into(), tables: max_tables.into() },
        }
    }

    fn plus(self, o: Self) -> Self {
        Self {
            instances: self.instances.saturating_add(o.instances),
            memories: self.memories.saturating_add(o.memories),
            tables: self.tables.saturating_add(o.tables),
        }
    }

    fn minus(self, o: Self) -> Self {
        Self {
            instances: self.instances.saturating_sub(o.instances),
            memories: self.memories.saturating_sub(o.memories),
            tables: self.tables.saturating_sub(o.tables),
        }
    }

    fn within(self, cap: Self) -> bool {
        self.instances <= cap.instances && self.memories <= cap.memories && self.tables <= cap.tables
    }

    /// The first part over `cap`, by name, for an error message.
    fn first_over(self, cap: Self) -> &'static str {
        if self.memories > cap.memories {
            "memories"
        } else if self.tables > cap.tables {
            "tables"
        } else {
            "instances"
        }
    }
}

impl std::fmt::Display for Parts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} instance(s), {} memories, {} tables", self.instances, self.memories, self.tables)
    }
}

/// The pool's capacity, and what every endpoint reserved and holds of it.
pub(crate) struct Slots {
    capacity: Parts,
    ledger: Mutex<Ledger>,
}

#[derive(Default)]
struct Ledger {
    /// All reservations together.
    reserved: Parts,
    /// What endpoints hold past their reservations, together.
    shared: Parts,
    shares: HashMap<u64, Share>,
    next_id: u64,
}

struct Share {
    reserved: Parts,
    held: Parts,
}

impl Ledger {
    /// The shared rest after all reservations.
    fn shared_capacity(&self, capacity: Parts) -> Parts {
        capacity.minus(self.reserved)
    }
}

/// Why an endpoint got no slot.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("no instance slot is free: {0}")]
pub(crate) struct Exhausted(pub(crate) String);

impl Slots {
    /// A ledger over a pool of `capacity`.
    pub(crate) fn new(capacity: Parts) -> Arc<Self> {
        Arc::new(Self { capacity, ledger: Mutex::default() })
    }

    /// Reserves room for one instance of `footprint` for a new endpoint.
    pub(crate) fn reserve(self: &Arc<Self>, footprint: Parts) -> Result<EndpointShare, Exhausted> {
        let mut ledger = self.ledger.lock().unwrap();
        let reserved = ledger.reserved.plus(footprint);
        // The new reservation comes out of the shared rest, which must still cover what is held of it.
        if !reserved.plus(ledger.shared).within(self.capacity) {
            let over = reserved.plus(ledger.shared).first_over(self.capacity);
            return Err(Exhausted(format!(
                "the runtime's pool cannot reserve one instance ({footprint}) for another endpoint: \
                 its {over} are reserved or in use (capacity {}; raise RuntimeBuilder::max_instances)",
                self.capacity
            )));
        }
        ledger.reserved = reserved;
        let id = ledger.next_id;
        ledger.next_id += 1;
        ledger.shares.insert(id, Share { reserved: footprint, held: Parts::default() });
        Ok(EndpointShare { slots: self.clone(), id })
    }

    /// Takes `parts` for endpoint `id`: from its reservation first, then from
    /// the shared rest. With `headroom`, only if room for one more would be left
    /// (a spare must not take the room its endpoint's next caller needs).
    fn take(&self, id: u64, parts: Parts, headroom: bool) -> Result<(), Exhausted> {
        let mut ledger = self.ledger.lock().unwrap();
        let shared_capacity = ledger.shared_capacity(self.capacity);
        let shared_now = ledger.shared;
        // A share is in the ledger while it lives; were it not, there is no room for it.
        let Some(share) = ledger.shares.get_mut(&id) else {
            return Err(Exhausted("this endpoint's share of the pool is gone".into()));
        };
        let held = share.held.plus(parts);
        let shared = shared_now.minus(share.held.minus(share.reserved)).plus(held.minus(share.reserved));
        let needed =
            if headroom { shared.plus(held.plus(parts).minus(share.reserved).minus(held.minus(share.reserved))) } else { shared };
        if !needed.within(shared_capacity) {
            let over = shared.first_over(shared_capacity);
            return Err(Exhausted(format!(
                "its reserved instance is in use and the pool's shared {over} are taken \
                 (this endpoint holds {}; one instance takes {parts})",
                share.held
            )));
        }
        share.held = held;
        ledger.shared = shared;
        Ok(())
    }

    /// Gives back `parts` taken by endpoint `id`.
    fn give_back(&self, id: u64, parts: Parts) {
        let mut ledger = self.ledger.lock().unwrap();
        let shared_now = ledger.shared;
        if let Some(share) = ledger.shares.get_mut(&id) {
            let held = share.held.minus(parts);
            let shared = shared_now.minus(share.held.minus(share.reserved)).plus(held.minus(share.reserved));
            share.held = held;
            ledger.shared = shared;
        }
    }

    /// Moves endpoint `id`'s reservation to one instance of `footprint`, when the pool has room.
    fn re_reserve(&self, id: u64, footprint: Parts) -> bool {
        let mut ledger = self.ledger.lock().unwrap();
        let (reserved_now, shared_now) = (ledger.reserved, ledger.shared);
        let Some(share) = ledger.shares.get_mut(&id) else { return false };
        let (old, held) = (share.reserved, share.held);
        let reserved = reserved_now.minus(old).plus(footprint);
        let shared = shared_now.minus(held.minus(old)).plus(held.minus(footprint));
        if !reserved.plus(shared).within(self.capacity) {
            return false;
        }
        share.reserved = footprint;
        (ledger.reserved, ledger.shared) = (reserved, shared);
        true
    }

    /// Whether endpoint `id` holds more than its reservation (its idle instances then free shared room).
    fn is_over(&self, id: u64) -> bool {
        let ledger = self.ledger.lock().unwrap();
        ledger.shares.get(&id).is_some_and(|s| !s.held.within(s.reserved))
    }

    fn release(&self, id: u64) {
        let mut ledger = self.ledger.lock().unwrap();
        if let Some(share) = ledger.shares.remove(&id) {
            ledger.reserved = ledger.reserved.minus(share.reserved);
            ledger.shared = ledger.shared.minus(share.held.minus(share.reserved));
        }
    }

    /// Reserved and shared-in-use parts now (for tests and diagnostics).
    #[cfg(test)]
    fn totals(&self) -> (Parts, Parts) {
        let ledger = self.ledger.lock().unwrap();
        (ledger.reserved, ledger.shared)
    }
}

/// One endpoint's share of the pool: released when the endpoint and all its instances are gone.
pub(crate) struct EndpointShare {
    slots: Arc<Slots>,
    id: u64,
}

impl EndpointShare {
    /// Takes room for one instance of `parts`, or says why there is none.
    pub(crate) fn take(self: &Arc<Self>, parts: Parts) -> Result<SlotGuard, Exhausted> {
        self.slots.take(self.id, parts, false)?;
        Ok(SlotGuard { share: self.clone(), parts })
    }

    /// Like [`take`](Self::take), only if room for one more instance would be left (for spares).
    pub(crate) fn take_leaving_room(self: &Arc<Self>, parts: Parts) -> Result<SlotGuard, Exhausted> {
        self.slots.take(self.id, parts, true)?;
        Ok(SlotGuard { share: self.clone(), parts })
    }

    /// Moves the reservation to one instance of `footprint` (a hot reload's new version); false when there is no room.
    pub(crate) fn re_reserve(&self, footprint: Parts) -> bool {
        self.slots.re_reserve(self.id, footprint)
    }

    /// Whether this endpoint holds more than its reservation.
    pub(crate) fn is_over(&self) -> bool {
        self.slots.is_over(self.id)
    }
}

impl Drop for EndpointShare {
    fn drop(&mut self) {
        self.slots.release(self.id);
    }
}

/// The room one instance takes, given back when its store is dropped.
pub(crate) struct SlotGuard {
    share: Arc<EndpointShare>,
    parts: Parts,
}

impl Drop for SlotGuard {
    fn drop(&mut self) {
        self.share.slots.give_back(self.share.id, self.parts);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(memories: u64) -> Parts {
        Parts { instances: 1, memories, tables: 1 }
    }

    #[test]
    fn a_greedy_endpoint_takes_only_the_shared_rest() {
        let slots = Slots::new(Parts { instances: 10, memories: 20, tables: 10 });
        let greedy = Arc::new(slots.reserve(parts(4)).unwrap());
        let modest = Arc::new(slots.reserve(parts(2)).unwrap());
        // 20 memories: 6 reserved, 14 shared. The greedy one gets its own 4, then 3 × 4 of the 14.
        let held: Vec<_> = (0..10).map_while(|_| greedy.take(parts(4)).ok()).collect();
        assert_eq!(held.len(), 4);
        assert!(greedy.is_over());
        let err = greedy.take(parts(4)).err().unwrap();
        assert!(err.0.contains("shared memories"), "{}", err.0);
        // The modest one still has its reservation, and the 2 shared memories left.
        let own = modest.take(parts(2)).unwrap();
        assert!(!modest.is_over());
        let extra = modest.take(parts(2)).unwrap();
        assert!(modest.take(parts(2)).is_err());
        drop((own, extra));
        drop(held);
        assert_eq!(slots.totals(), (Parts { instances: 2, memories: 6, tables: 2 }, Parts::default()));
    }

    #[test]
    fn reservations_are_bounded_and_released_with_the_last_instance() {
        let slots = Slots::new(Parts { instances: 2, memories: 4, tables: 4 });
        let a = Arc::new(slots.reserve(parts(2)).unwrap());
        let b = slots.reserve(parts(2)).unwrap();
        assert!(slots.reserve(parts(1)).is_err(), "no room left to reserve");
        let guard = a.take(parts(2)).unwrap();
        drop(a);
        drop(b);
        assert_eq!(slots.totals().0.instances, 1, "a's reservation lives while its instance does");
        drop(guard);
        assert_eq!(slots.totals(), (Parts::default(), Parts::default()));
        assert!(slots.reserve(parts(4)).is_ok());
    }

    #[test]
    fn a_spare_leaves_room_for_its_endpoints_next_caller() {
        let slots = Slots::new(Parts { instances: 4, memories: 6, tables: 8 });
        let a = Arc::new(slots.reserve(parts(2)).unwrap());
        // 2 reserved, 4 shared: a spare may take the reservation and one shared instance, not the last.
        let spares: Vec<_> = (0..3).map_while(|_| a.take_leaving_room(parts(2)).ok()).collect();
        assert_eq!(spares.len(), 2);
        let caller = a.take(parts(2)).unwrap();
        assert!(a.take(parts(2)).is_err());
        drop((spares, caller));
    }

    #[test]
    fn a_reload_moves_the_reservation_when_there_is_room() {
        let slots = Slots::new(Parts { instances: 4, memories: 8, tables: 8 });
        let a = Arc::new(slots.reserve(parts(2)).unwrap());
        let _held = a.take(parts(2)).unwrap();
        assert!(a.re_reserve(parts(6)));
        assert!(!a.re_reserve(parts(9)), "past the capacity");
        assert_eq!(slots.totals().0.memories, 6);
        // Held 2 within a reservation of 6: nothing of the shared rest is used.
        assert_eq!(slots.totals().1, Parts::default());
    }
}
