//! The data of one store: WASI context, host context, limits and captured output.

use std::time::Instant;

use wasmtime::component::ResourceTable;
use wasmtime::{Store, UpdateDeadline};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

pub(crate) mod background;
pub(crate) mod limiter;
pub(crate) mod output;
pub(crate) mod slots;
pub(crate) mod trap;

use std::any::Any;
use std::sync::Arc;

use crate::host::{HostCtx, HostView};
pub(crate) use limiter::GuestLimiter;
use output::CapturedOutput;
use slots::SlotGuard;

/// How many bytes of each guest output stream are kept.
const CAPTURE_BYTES: usize = 16 * 1024;
/// Most live handles (WASI resources, component handles) one store may hold.
pub(crate) const MAX_LIVE_HANDLES: usize = 10_000;
/// Handles past those it held after `init` with which an instance is still reused.
pub(crate) const REUSE_HANDLE_SLACK: usize = 64;

/// Everything a store of any world holds.
pub(crate) struct StoreState {
    wasi: WasiCtx,
    table: ResourceTable,
    pub(crate) host: HostCtx,
    pub(crate) memory: GuestLimiter,
    pub(crate) stderr: CapturedOutput,
    pub(crate) stdout: CapturedOutput,
    /// When the current call (or instantiation) must end.
    pub(crate) deadline: Instant,
    /// Set when the epoch callback stopped the guest at its deadline.
    pub(crate) timed_out: bool,
    /// The source this store runs, for a `source`-world guest.
    pub(crate) source: SourceCtx,
    /// The pool room its instance takes, given back when the store is dropped.
    pub(crate) slot: Option<SlotGuard>,
}

impl StoreState {
    /// A fresh state: clocks, random and captured stdio; no files, sockets or environment.
    pub(crate) fn new(host: HostCtx, limiter: GuestLimiter) -> Self {
        let stdout = CapturedOutput::new(CAPTURE_BYTES);
        let stderr = CapturedOutput::new(CAPTURE_BYTES);
        let wasi = WasiCtx::builder()
            .stdout(stdout.clone())
            .stderr(stderr.clone())
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .build();
        let mut table = ResourceTable::new();
        table.set_max_capacity(MAX_LIVE_HANDLES);
        Self {
            wasi,
            table,
            host,
            memory: limiter,
            stderr,
            stdout,
            deadline: Instant::now(),
            timed_out: false,
            source: SourceCtx::default(),
            slot: None,
        }
    }

    /// Host resources (WASI handles and the like) the guest holds now.
    pub(crate) fn live_handles(&mut self) -> usize {
        self.table.iter_mut().count()
    }

    /// Prepares for the next guest entry, which must end by `deadline`.
    pub(crate) fn arm(&mut self, deadline: Instant) {
        self.deadline = deadline;
        self.host.deadline = deadline;
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
///
/// What the guest hands the host in one host call, or returns from one
/// export, is bounded by `max-memory` bytes as the host holds it (wasmtime's
/// hostcall fuel), so aliased list elements cannot multiply it.
pub(crate) fn new_store(engine: &wasmtime::Engine, state: StoreState) -> Store<StoreState> {
    let max_bytes = usize::try_from(state.memory.max_bytes).unwrap_or(usize::MAX);
    let mut store = Store::new(engine, state);
    store.set_hostcall_fuel(max_bytes);
    store.set_max_component_handles(MAX_LIVE_HANDLES);
    store.limiter(|s| &mut s.memory);
    store.set_epoch_deadline(1);
    store.epoch_deadline_callback(|mut ctx| {
        let state = ctx.data_mut();
        if Instant::now() >= state.deadline || state.source.interrupted() {
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

/// Drops a store off the caller's path (on the background thread).
pub(crate) fn discard(store: Store<StoreState>) {
    background::drop_later(store);
}

/// What a `source`-world store knows of the source it serves (the edge's shared state).
pub(crate) trait SourceLink: Any + Send + Sync {
    /// Whether a stopping guest ran past its grace and must be interrupted.
    fn interrupted(&self) -> bool;
}

/// A store's source context: the running source it serves, if any.
#[derive(Default)]
pub(crate) struct SourceCtx {
    link: Option<Arc<dyn SourceLink>>,
}

impl SourceCtx {
    /// Serves `link` from now on.
    pub(crate) fn serve(&mut self, link: Arc<dyn SourceLink>) {
        self.link = Some(link);
    }

    /// The source served, as the edge's own type.
    pub(crate) fn get<T: SourceLink>(&self) -> Option<Arc<T>> {
        let link: Arc<dyn Any + Send + Sync> = self.link.clone()?;
        link.downcast().ok()
    }

    /// Whether a stopping guest ran past its grace and must be interrupted.
    pub(crate) fn interrupted(&self) -> bool {
        self.link.as_ref().is_some_and(|link| link.interrupted())
    }
}
