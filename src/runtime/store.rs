//! The data of one store: WASI context, host context, limits and captured output.

use std::time::Instant;

use wasmtime::component::ResourceTable;
use wasmtime::{ResourceLimiter, Store, UpdateDeadline};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use super::output::CapturedOutput;
use crate::host::{HostCtx, HostView};

/// How many bytes of each guest output stream are kept.
const CAPTURE_BYTES: usize = 16 * 1024;

/// Everything a store of any world holds.
pub(crate) struct StoreState {
    wasi: WasiCtx,
    table: ResourceTable,
    pub(crate) host: HostCtx,
    pub(crate) memory: MemoryLimiter,
    pub(crate) stderr: CapturedOutput,
    pub(crate) stdout: CapturedOutput,
    /// When the current call (or instantiation) must end.
    pub(crate) deadline: Instant,
    /// Set when the epoch callback stopped the guest at its deadline.
    pub(crate) timed_out: bool,
}

impl StoreState {
    /// A fresh state: clocks, random and captured stdio; no files, sockets or environment.
    pub(crate) fn new(host: HostCtx, max_memory: u64) -> Self {
        let stdout = CapturedOutput::new(CAPTURE_BYTES);
        let stderr = CapturedOutput::new(CAPTURE_BYTES);
        let wasi = WasiCtx::builder()
            .stdout(stdout.clone())
            .stderr(stderr.clone())
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .build();
        Self {
            wasi,
            table: ResourceTable::new(),
            host,
            memory: MemoryLimiter { max_bytes: max_memory, refused: false },
            stderr,
            stdout,
            deadline: Instant::now(),
            timed_out: false,
        }
    }

    /// Prepares for the next guest entry, which must end by `deadline`.
    pub(crate) fn arm(&mut self, deadline: Instant) {
        self.deadline = deadline;
        self.timed_out = false;
        self.memory.refused = false;
        self.stderr.clear();
        self.stdout.clear();
    }
}

/// A store for `state`, with the memory limiter and the deadline check installed.
///
/// The engine's epoch ticks every few milliseconds; at each tick a running
/// guest yields to the async executor, and past its deadline it is interrupted.
pub(crate) fn new_store(engine: &wasmtime::Engine, state: StoreState) -> Store<StoreState> {
    let mut store = Store::new(engine, state);
    store.limiter(|s| &mut s.memory);
    store.set_epoch_deadline(1);
    store.epoch_deadline_callback(|mut ctx| {
        let state = ctx.data_mut();
        if Instant::now() >= state.deadline {
            state.timed_out = true;
            return Ok(UpdateDeadline::Interrupt);
        }
        Ok(UpdateDeadline::Yield(1))
    });
    store
}

impl WasiView for StoreState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

impl HostView for StoreState {
    fn host(&mut self) -> &mut HostCtx {
        &mut self.host
    }
}

/// Refuses linear-memory growth past `max_bytes` and remembers that it did.
pub(crate) struct MemoryLimiter {
    max_bytes: u64,
    pub(crate) refused: bool,
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        if desired as u64 > self.max_bytes {
            self.refused = true;
            return Ok(false);
        }
        Ok(true)
    }

    fn table_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        Ok(desired <= 1_000_000)
    }
}
