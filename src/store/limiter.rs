//! The store's resource limiter: the whole guest's memories and tables against `max-memory` and the count knobs.

use wasmtime::ResourceLimiter;

use crate::limits::Limits;

/// Bounds the whole guest, not each memory on its own: the bytes of all its
/// linear memories and tables together stay within `max-memory`, and the
/// counts of its core instances, memories, tables and table elements within
/// their knobs. Remembers when it refused, so the call is reported as out of memory.
pub(crate) struct GuestLimiter {
    pub(crate) max_bytes: u64,
    max_instances: usize,
    max_tables: usize,
    max_table_elements: u64,
    /// Bytes of all linear memories now.
    memory_bytes: u64,
    /// Elements of all tables now.
    table_elements: u64,
    pub(crate) refused: bool,
}

/// Bytes one table element takes in wasmtime (a pointer), charged against `max-memory`.
pub(crate) const TABLE_ELEMENT_BYTES: u64 = std::mem::size_of::<usize>() as u64;

impl GuestLimiter {
    /// A limiter for one store under `limits`.
    pub(crate) fn new(limits: &Limits) -> Self {
        Self {
            max_bytes: limits.max_memory,
            max_instances: usize::try_from(limits.max_instances).unwrap_or(usize::MAX),
            max_tables: usize::try_from(limits.max_tables).unwrap_or(usize::MAX),
            max_table_elements: limits.max_table_elements,
            memory_bytes: 0,
            table_elements: 0,
            refused: false,
        }
    }

    /// Bytes the guest holds now: all memories, plus all tables at a pointer per element.
    #[cfg(test)]
    pub(crate) fn used_bytes(&self) -> u64 {
        self.memory_bytes.saturating_add(self.table_elements.saturating_mul(TABLE_ELEMENT_BYTES))
    }

    fn refuse(&mut self) -> wasmtime::Result<bool> {
        self.refused = true;
        Ok(false)
    }
}

impl ResourceLimiter for GuestLimiter {
    fn memory_growing(&mut self, current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        let memory_bytes = (self.memory_bytes + desired as u64).saturating_sub(current as u64);
        let total = memory_bytes.saturating_add(self.table_elements.saturating_mul(TABLE_ELEMENT_BYTES));
        if total > self.max_bytes {
            return self.refuse();
        }
        self.memory_bytes = memory_bytes;
        Ok(true)
    }

    fn memory_grow_failed(&mut self, _error: wasmtime::Error) -> wasmtime::Result<()> {
        // The growth we counted did not happen; the store is discarded after
        // a failed instantiation, and a failed `memory.grow` is rare enough
        // that over-counting it only makes the limit stricter.
        Ok(())
    }

    fn table_growing(&mut self, current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        let elements = (self.table_elements + desired as u64).saturating_sub(current as u64);
        let total = self.memory_bytes.saturating_add(elements.saturating_mul(TABLE_ELEMENT_BYTES));
        if elements > self.max_table_elements || total > self.max_bytes {
            return self.refuse();
        }
        self.table_elements = elements;
        Ok(true)
    }

    fn instances(&self) -> usize {
        self.max_instances
    }

    fn tables(&self) -> usize {
        self.max_tables
    }

    fn memories(&self) -> usize {
        self.max_instances
    }
}
