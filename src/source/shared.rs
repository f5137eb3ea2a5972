//! What the HTTP edge, the guest's imports and the supervisor of one source share.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use tower::util::BoxCloneSyncService;

use super::auth::EdgePrincipal;
use crate::error::WasmError;
use crate::exchange::{Exchange, StreamBody};
use crate::stream::StreamBounds;

/// The application's side of `submit-exchange`: a tower service taking each exchange.
pub type SubmitService = BoxCloneSyncService<Exchange, Exchange, BoxError>;
/// The error a [`SubmitService`] may fail with.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The header the host adds to each request, carrying its id; see [`Shared::take_pending`].
/// A client's own `camel*` headers never reach the guest, so this one is always the host's.
pub const REQUEST_ID_HEADER: &str = "camel-wasm-request-id";

/// A header whose value `direct` makes a submitted exchange the request's answer,
/// without the route (how a guest rejects a request: status in `camel.http.response-code`).
pub const DIRECT_REPLY_HEADER: &str = "camel-wasm-reply";

/// How a request is answered.
#[derive(Debug)]
pub(crate) enum Reply {
    /// A status and a short text.
    Status(http::StatusCode, String),
    /// The route's result (request/reply).
    Exchange(Box<Exchange>),
}

/// What the edge and the rest of the host know of one request's end.
#[derive(Default)]
pub(crate) struct RequestEnd {
    /// The status the edge answered with itself (413, 408, 503, 504), and why.
    answered: Mutex<Option<(http::StatusCode, String)>>,
    /// Cancelled once the edge has answered: the body stops, the exchange is not delivered.
    pub(crate) ended: CancellationToken,
}

impl RequestEnd {
    /// Records that the edge answered `status` itself.
    pub(crate) fn answer(&self, status: http::StatusCode, reason: &str) {
        self.answered.lock().unwrap().get_or_insert_with(|| (status, reason.to_string()));
        self.ended.cancel();
    }

    /// The edge's own answer, if it gave one.
    pub(crate) fn answered(&self) -> Option<(http::StatusCode, String)> {
        self.answered.lock().unwrap().clone()
    }
}

/// A request waiting for the guest to accept it.
pub(crate) struct Incoming {
    pub(crate) id: u64,
    pub(crate) method: String,
    pub(crate) path: String,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: StreamBody,
    pub(crate) reply: oneshot::Sender<Reply>,
    pub(crate) end: Arc<RequestEnd>,
    pub(crate) principal: Option<EdgePrincipal>,
}

/// A request the guest accepted and has not submitted yet; its slot is free again when it goes.
pub(crate) struct Pending {
    id: u64,
    reply: oneshot::Sender<Reply>,
    pub(crate) end: Arc<RequestEnd>,
    pub(crate) principal: Option<EdgePrincipal>,
    _slot: OwnedSemaphorePermit,
}

impl Pending {
    /// Answers the request.
    pub(crate) fn answer(self, reply: Reply) {
        let _ = self.reply.send(reply);
    }

    /// Why the request can no longer be answered (the edge answered it already), if it cannot.
    pub(crate) fn gone(&self) -> Option<String> {
        if !self.reply.is_closed() && !self.end.ended.is_cancelled() {
            return None;
        }
        Some(match self.end.answered() {
            Some((status, reason)) => format!("the request was already answered {} ({reason})", status.as_u16()),
            None => "the client went away before its answer".to_string(),
        })
    }

    /// Resolves once the edge stopped waiting for this request's answer.
    pub(crate) async fn closed(&mut self) {
        tokio::select! {
            () = self.reply.closed() => {}
            () = self.end.ended.cancelled() => {}
        }
    }
}

/// A request id as the guest sees it: the source's nonce and the request's number.
pub(crate) fn request_id(nonce: u64, id: u64) -> String {
    format!("{nonce:016x}-{id}")
}

/// State of one running source.
pub(crate) struct Shared {
    pub(crate) plugin: Arc<str>,
    pub(crate) requests: tokio::sync::Mutex<mpsc::Receiver<Incoming>>,
    pending: Mutex<VecDeque<Pending>>,
    /// Accepted-but-unsubmitted requests the plan allows at once (1 for `sequential`).
    pub(crate) slots: Arc<Semaphore>,
    /// Whether the plan is `sequential` (an unsubmitted request is answered when the next is accepted).
    pub(crate) sequential: AtomicBool,
    /// Exchanges in the application at once (`max-concurrent`): `submit-exchange` waits for one.
    pub(crate) in_flight: Arc<Semaphore>,
    pub(crate) submit: SubmitService,
    pub(crate) stream_bounds: StreamBounds,
    /// Set by `stop`: `is-cancelled` is true, `accept-http` gives `none`, `submit-exchange` `stopped`.
    pub(crate) cancel: CancellationToken,
    /// Set when a stopping guest ran past its grace: the epoch check interrupts it.
    pub(crate) interrupt: AtomicBool,
    pub(crate) restarts: AtomicU64,
    pub(crate) last_error: Mutex<Option<String>>,
    /// The typed failure behind `last_error`, when it was the guest's.
    pub(crate) last_failure: Mutex<Option<WasmError>>,
    pub(crate) submitted: AtomicU64,
    /// Random per source: request ids are `{nonce}-{n}`, so an id from another source (or a guess) matches nothing.
    pub(crate) nonce: u64,
}

impl Shared {
    pub(crate) fn new(
        plugin: Arc<str>,
        requests: mpsc::Receiver<Incoming>,
        submit: SubmitService,
        stream_bounds: StreamBounds,
        max_in_flight: usize,
    ) -> Self {
        Self {
            plugin,
            requests: tokio::sync::Mutex::new(requests),
            pending: Mutex::default(),
            slots: Arc::new(Semaphore::new(1)),
            sequential: AtomicBool::new(true),
            in_flight: Arc::new(Semaphore::new(max_in_flight.max(1))),
            submit,
            stream_bounds,
            cancel: CancellationToken::new(),
            interrupt: AtomicBool::new(false),
            restarts: AtomicU64::new(0),
            last_error: Mutex::default(),
            last_failure: Mutex::default(),
            submitted: AtomicU64::new(0),
            nonce: random_nonce(),
        }
    }

    /// Applies the plan's concurrency: up to `n` requests accepted and not submitted.
    pub(crate) fn set_concurrency(&self, n: usize) {
        let n = n.max(1);
        self.sequential.store(n == 1, Ordering::Release);
        let now = self.slots.available_permits();
        if n > now {
            self.slots.add_permits(n - now);
        }
    }

    /// Records an accepted request.
    pub(crate) fn accepted(&self, incoming: Incoming, slot: OwnedSemaphorePermit) {
        let Incoming { id, reply, end, principal, .. } = incoming;
        self.pending.lock().unwrap().push_back(Pending { id, reply, end, principal, _slot: slot });
    }

    /// The accepted request `exchange` answers: by its correlation id, else its
    /// `camel-wasm-request-id` header (ids only the host hands out), else the
    /// only one pending. `Err` gives how many are pending when none is named.
    pub(crate) fn take_pending(&self, correlation_id: &str, header: Option<&str>) -> Result<Option<Pending>, usize> {
        let mut pending = self.pending.lock().unwrap();
        let prefix = format!("{:016x}-", self.nonce);
        let by_id = |id: &str| {
            let n = id.strip_prefix(&prefix)?.parse::<u64>().ok()?;
            pending.iter().position(|p| p.id == n)
        };
        let at = match by_id(correlation_id).or_else(|| header.and_then(by_id)) {
            Some(at) => at,
            None if pending.len() <= 1 => 0,
            None => return Err(pending.len()),
        };
        Ok(pending.remove(at))
    }

    /// Answers every accepted, unsubmitted request with `status` (the guest moved on, or went away).
    pub(crate) fn answer_pending(&self, status: http::StatusCode, text: &str) {
        let all: Vec<Pending> = self.pending.lock().unwrap().drain(..).collect();
        for pending in all {
            pending.answer(Reply::Status(status, text.to_string()));
        }
    }

    /// Records why the guest's run ended, for [`RunningSource::last_error`](super::RunningSource::last_error).
    pub(crate) fn record_error(&self, error: String) {
        tracing::error!(plugin = %self.plugin, "source run ended: {}", crate::text::escape_control(&error));
        *self.last_error.lock().unwrap() = Some(error);
        *self.last_failure.lock().unwrap() = None;
    }

    /// Records the guest's failure, classified as every world's is (trap, timeout, out of memory).
    pub(crate) fn record_failure(&self, failure: WasmError) {
        self.record_error(failure.to_string());
        *self.last_failure.lock().unwrap() = Some(failure);
    }
}

/// A random nonce (a clock-derived one if the system has no randomness to give).
fn random_nonce() -> u64 {
    let mut bytes = [0u8; 8];
    if getrandom::fill(&mut bytes).is_err() {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        return now.as_nanos() as u64 ^ u64::from(std::process::id());
    }
    u64::from_le_bytes(bytes)
}
