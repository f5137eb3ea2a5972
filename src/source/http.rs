//! The HTTP edge: a hyper server on the bound listener, handing requests to the guest and answering them.
//!
//! No request is left hanging: it gets the guest's (or route's) answer, 401
//! without a credential that authenticates, 404 off the served path, 413 over
//! `max-body-bytes`, 408 past `body-timeout`, 503 when the source stops or its
//! guest fails, and 504 after `request-timeout`. Whichever the edge answers
//! itself ends the request everywhere: its body fails for the guest and its
//! exchange is never delivered. Connections are bounded too ([`Connections`]).

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::StreamExt;
use http::{HeaderName, HeaderValue, Request, Response, StatusCode};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, BodyStream, Full, StreamBody as HttpStreamBody};
use hyper::body::{Frame, Incoming as HyperBody};
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use super::auth::Access;
use super::shared::{Incoming, REQUEST_ID_HEADER, Reply, RequestEnd, request_id};
use super::tls::Acceptor;
use crate::exchange::{Body, Exchange, StreamBody, StreamError};

/// The response body type: whole or streamed.
type ResponseBody = UnsyncBoxBody<Bytes, std::io::Error>;

/// The edge's settings for each request.
#[derive(Clone)]
pub(crate) struct Edge {
    pub(crate) path: Option<String>,
    pub(crate) max_body_bytes: u64,
    pub(crate) request_timeout: Duration,
    pub(crate) body_timeout: Duration,
    pub(crate) requests: mpsc::Sender<Incoming>,
    pub(crate) next_id: Arc<AtomicU64>,
    pub(crate) nonce: u64,
    pub(crate) plugin: Arc<str>,
    pub(crate) access: Access,
    pub(crate) denials: Arc<RateLimited>,
}

/// The listener's settings for each connection.
#[derive(Clone)]
pub(crate) struct ConnectionLimits {
    pub(crate) header_read_timeout: Duration,
    pub(crate) keep_alive_timeout: Duration,
    /// How long a response may be written with no byte taken by the client (the endpoint's `stream-idle-timeout`).
    pub(crate) write_timeout: Duration,
    pub(crate) max_connections: usize,
    pub(crate) max_header_bytes: usize,
    pub(crate) tls: Option<Acceptor>,
}

/// A log line at most once a second, with how many were held back.
#[derive(Default)]
pub(crate) struct RateLimited {
    last: Mutex<Option<Instant>>,
    held: AtomicU64,
}

impl RateLimited {
    /// Calls `log` with the count held back, unless it was called less than a second ago.
    fn log(&self, log: impl FnOnce(u64)) {
        let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        if last.is_some_and(|at| at.elapsed() < Duration::from_secs(1)) {
            self.held.fetch_add(1, Ordering::Relaxed);
            return;
        }
        *last = Some(Instant::now());
        log(self.held.swap(0, Ordering::Relaxed));
    }
}

/// The open connections of one listener: admitted up to `max-connections`,
/// the oldest idle one closed to make room, else the new one refused.
#[derive(Default)]
pub(crate) struct Connections {
    open: Mutex<BTreeMap<u64, Arc<Connection>>>,
    next: AtomicU64,
}

/// One open connection, as its watchdog and the admission see it.
pub(crate) struct Connection {
    id: u64,
    started: Instant,
    /// Milliseconds from `started` when a byte last moved either way.
    last_io: AtomicU64,
    /// Requests being handled (from the head read to the response head).
    handling: AtomicUsize,
    /// Response bodies being written.
    writing: AtomicUsize,
    /// Cancelled to close the connection now (made room for another, or the listener stops).
    close: CancellationToken,
}

impl Connection {
    fn touch(&self) {
        let ms = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_io.store(ms, Ordering::Relaxed);
    }

    fn quiet_for(&self) -> Duration {
        self.started.elapsed().saturating_sub(Duration::from_millis(self.last_io.load(Ordering::Relaxed)))
    }

    /// Whether nothing is being handled or written: it only waits for a request.
    fn idle(&self) -> bool {
        self.handling.load(Ordering::Acquire) == 0 && self.writing.load(Ordering::Acquire) == 0
    }
}

impl Connections {
    /// Open connections now.
    pub(crate) fn len(&self) -> usize {
        self.open.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// A slot for a new connection: free, or made by closing the longest-idle one; `None` when every one is busy.
    fn admit(&self, max: usize) -> Option<Arc<Connection>> {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        if open.len() >= max {
            let victim = open.values().filter(|c| c.idle()).max_by_key(|c| c.quiet_for()).map(|c| c.id)?;
            if let Some(victim) = open.remove(&victim) {
                victim.close.cancel();
            }
        }
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let started = Instant::now();
        let connection = Arc::new(Connection {
            id,
            started,
            last_io: AtomicU64::new(0),
            handling: AtomicUsize::new(0),
            writing: AtomicUsize::new(0),
            close: CancellationToken::new(),
        });
        open.insert(id, connection.clone());
        Some(connection)
    }

    fn remove(&self, id: u64) {
        self.open.lock().unwrap_or_else(|p| p.into_inner()).remove(&id);
    }
}

/// What a client past `max-connections` gets when no connection can be closed for it.
const REFUSED: &[u8] =
    b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain\r\ncontent-length: 38\r\nconnection: close\r\nretry-after: 1\r\n\r\nthe listener is at its max-connections";

/// Serves `listener` until `cancel`; each connection on its own task, within `limits`.
pub(crate) async fn serve(
    listener: TcpListener,
    edge: Edge,
    limits: ConnectionLimits,
    connections: Arc<Connections>,
    cancel: CancellationToken,
) {
    let accept_errors = RateLimited::default();
    let mut backoff = Duration::ZERO;
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of descriptors (or another transient failure): back off, log once a second.
                    backoff = (backoff * 2).clamp(Duration::from_millis(5), Duration::from_secs(1));
                    accept_errors.log(|held| tracing::warn!(plugin = %edge.plugin, held, "accept failed, retrying in {backoff:?}: {e}"));
                    tokio::select! {
                        () = tokio::time::sleep(backoff) => {}
                        () = cancel.cancelled() => return,
                    }
                    continue;
                }
            },
            () = cancel.cancelled() => return,
        };
        backoff = Duration::ZERO;
        let Some(connection) = connections.admit(limits.max_connections) else {
            // Every connection is busy with a request: refuse this one at once.
            let _ = stream.try_write(REFUSED);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let (edge, limits, connections, cancel) = (edge.clone(), limits.clone(), connections.clone(), cancel.clone());
        tokio::spawn(async move {
            let id = connection.id;
            serve_connection(stream, connection, edge, limits, cancel).await;
            connections.remove(id);
        });
    }
}

/// One connection: TLS when configured, then HTTP/1.1 with keep-alive, until it ends, idles out, stalls or is closed.
async fn serve_connection(
    stream: TcpStream,
    connection: Arc<Connection>,
    edge: Edge,
    limits: ConnectionLimits,
    cancel: CancellationToken,
) {
    let io = Watched { inner: stream, connection: connection.clone() };
    match &limits.tls {
        #[cfg(feature = "tls")]
        Some(tls) => {
            let handshake = tokio::select! {
                done = tokio::time::timeout(limits.header_read_timeout, tls.accept(io)) => done,
                () = connection.close.cancelled() => return,
            };
            match handshake {
                Ok(Ok(tls_stream)) => http(TokioIo::new(tls_stream), connection, edge, limits, cancel).await,
                Ok(Err(e)) => tracing::debug!(plugin = %edge.plugin, "TLS handshake failed: {e}"),
                Err(_) => tracing::debug!(plugin = %edge.plugin, "TLS handshake timed out"),
            }
        }
        #[cfg(not(feature = "tls"))]
        Some(never) => match *never {},
        None => http(TokioIo::new(io), connection, edge, limits, cancel).await,
    }
}

async fn http<I>(io: I, connection: Arc<Connection>, edge: Edge, limits: ConnectionLimits, cancel: CancellationToken)
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let handler = connection.clone();
    let service = service_fn(move |request| {
        let (edge, connection) = (edge.clone(), handler.clone());
        async move {
            connection.handling.fetch_add(1, Ordering::AcqRel);
            let _handled = Decrement(&connection.handling);
            let response = edge.handle(request).await;
            Ok::<_, Infallible>(response.map(|body| Counted::new(body, connection.clone()).boxed_unsync()))
        }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_header_size(limits.max_header_bytes)
        .max_buf_size(limits.max_header_bytes.max(super::options::MIN_HEADER_BYTES) + 64 * 1024);
    let served = builder.serve_connection(io, service);
    tokio::pin!(served);
    tokio::select! {
        _ = served.as_mut() => {}
        () = watchdog(&connection, &limits) => {}
        () = connection.close.cancelled() => {}
        () = cancel.cancelled() => {
            served.as_mut().graceful_shutdown();
            // A request in progress may finish; the edge answers it within request-timeout.
            let _ = tokio::time::timeout(edge_grace(&limits), served).await;
        }
    }
}

/// How long a stopping listener lets an open connection finish its response.
fn edge_grace(limits: &ConnectionLimits) -> Duration {
    limits.write_timeout.min(Duration::from_secs(5))
}

/// Resolves when the connection should close: idle past `keep-alive-timeout`,
/// or a response written to a client that took no byte for `write_timeout`.
/// A request being handled is bounded by `request-timeout` and `body-timeout` instead.
async fn watchdog(connection: &Connection, limits: &ConnectionLimits) {
    let tick = (limits.keep_alive_timeout.min(limits.write_timeout) / 4).clamp(Duration::from_millis(20), Duration::from_secs(1));
    loop {
        tokio::time::sleep(tick).await;
        if connection.handling.load(Ordering::Acquire) > 0 {
            continue;
        }
        let quiet = connection.quiet_for();
        let limit = if connection.writing.load(Ordering::Acquire) > 0 { limits.write_timeout } else { limits.keep_alive_timeout };
        if quiet >= limit {
            return;
        }
    }
}

/// Decrements a counter when dropped.
struct Decrement<'a>(&'a AtomicUsize);

impl Drop for Decrement<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A response body counted as being written while it lives.
struct Counted {
    inner: ResponseBody,
    connection: Arc<Connection>,
}

impl Counted {
    fn new(inner: ResponseBody, connection: Arc<Connection>) -> Self {
        connection.writing.fetch_add(1, Ordering::AcqRel);
        Self { inner, connection }
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.connection.writing.fetch_sub(1, Ordering::AcqRel);
    }
}

impl hyper::body::Body for Counted {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.inner.size_hint()
    }
}

/// A connection's socket, noting when a byte last moved.
struct Watched {
    inner: TcpStream,
    connection: Arc<Connection>,
}

impl AsyncRead for Watched {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let read = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(read, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.connection.touch();
        }
        read
    }
}

impl AsyncWrite for Watched {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        let written = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(written, Poll::Ready(Ok(n)) if n > 0) {
            self.connection.touch();
        }
        written
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let written = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(written, Poll::Ready(Ok(n)) if n > 0) {
            self.connection.touch();
        }
        written
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Why a request body stopped early, as the body stream tells the edge.
#[derive(Default)]
struct BodyFailure {
    /// 413 (over `max-body-bytes`) or 408 (past `body-timeout`), once.
    status: Mutex<Option<StatusCode>>,
    notify: Notify,
}

impl BodyFailure {
    fn fail(&self, status: StatusCode) {
        self.status.lock().unwrap_or_else(|p| p.into_inner()).get_or_insert(status);
        self.notify.notify_one();
    }

    fn status(&self) -> Option<StatusCode> {
        *self.status.lock().unwrap_or_else(|p| p.into_inner())
    }

    async fn failed(&self) -> StatusCode {
        loop {
            let notified = self.notify.notified();
            if let Some(status) = self.status() {
                return status;
            }
            notified.await;
        }
    }
}

impl Edge {
    async fn handle(&self, request: Request<HyperBody>) -> Response<ResponseBody> {
        let (head, body) = request.into_parts();
        let path = head.uri.path().to_string();
        if self.path.as_deref().is_some_and(|served| served != path) {
            return status(StatusCode::NOT_FOUND, "no source serves this path");
        }
        // Before the guest wakes and before a byte of the body is read.
        let checked = tokio::time::timeout(self.request_timeout, self.access.check(&head)).await;
        let principal = match checked {
            Ok(Ok(principal)) => principal,
            Err(_) => {
                let secs = self.request_timeout.as_secs_f64();
                self.denials.log(
                    |held| tracing::warn!(plugin = %self.plugin, held, "authentication did not answer within {secs} s (503)"),
                );
                return status(StatusCode::SERVICE_UNAVAILABLE, "authentication is unavailable");
            }
            Ok(Err(reason)) => {
                self.denials.log(|held| tracing::warn!(plugin = %self.plugin, held, "request refused (401): {reason}"));
                let mut refused = status(StatusCode::UNAUTHORIZED, "authentication required");
                refused.headers_mut().insert(http::header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
                return refused;
            }
        };
        let declared = head.headers.get(http::header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
        if declared.is_some_and(|n| n > self.max_body_bytes) {
            return status(StatusCode::PAYLOAD_TOO_LARGE, &self.too_large());
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        // The host's protocol headers (and `camel.http.*`) only ever come from the host.
        let mut headers: Vec<(String, String)> = head
            .headers
            .iter()
            .filter(|(name, _)| !name.as_str().starts_with("camel"))
            .filter_map(|(name, value)| Some((name.as_str().to_string(), value.to_str().ok()?.to_string())))
            .collect();
        headers.push((REQUEST_ID_HEADER.to_string(), request_id(self.nonce, id)));
        let end = Arc::new(RequestEnd::default());
        let failure = Arc::new(BodyFailure::default());
        let done = Arc::new(BodyDone::default());
        let body = self.body_stream(body, declared, failure.clone(), done.clone(), end.clone());
        let (reply, answer) = oneshot::channel();
        let incoming = Incoming { id, method: head.method.to_string(), path, headers, body, reply, end: end.clone(), principal };
        // What the client sent, to tell it apart from what the route answers.
        let sent = head.headers;
        let failed = |code: StatusCode| match code {
            StatusCode::PAYLOAD_TOO_LARGE => (code, self.too_large()),
            _ => (code, format!("the body did not arrive within body-timeout ({} s)", self.body_timeout.as_secs_f64())),
        };
        // `Err`: the edge answers itself, which ends the request everywhere.
        let waited = tokio::time::timeout(self.request_timeout, async {
            if self.requests.send(incoming).await.is_err() {
                return Err((StatusCode::SERVICE_UNAVAILABLE, "the source is stopped".to_string()));
            }
            let reply = tokio::select! {
                biased;
                code = failure.failed() => return Err(failed(code)),
                answered = answer => match answered {
                    Ok(reply) => reply,
                    Err(_) => return Err((StatusCode::SERVICE_UNAVAILABLE, "the source's guest went away before answering".into())),
                },
            };
            // A body cut short is the answer, whatever the guest made of the cut.
            if let Some(code) = failure.status() {
                return Err(failed(code));
            }
            // "Accepted" stands once the body has been read (whoever reads it): an
            // early answer would let the client (or a stop) cut the upload short.
            if matches!(reply, Reply::Status(StatusCode::ACCEPTED, _)) {
                tokio::select! {
                    () = done.wait() => {}
                    code = failure.failed() => return Err(failed(code)),
                }
            }
            Ok(respond(reply, &sent))
        })
        .await;
        let answered = waited.unwrap_or_else(|_| {
            let secs = self.request_timeout.as_secs_f64();
            Err((StatusCode::GATEWAY_TIMEOUT, format!("no answer within request-timeout ({secs} s)")))
        });
        answered.unwrap_or_else(|(code, reason)| {
            end.answer(code, &reason);
            status(code, &reason)
        })
    }

    fn too_large(&self) -> String {
        format!("the body is over max-body-bytes ({})", self.max_body_bytes)
    }

    /// The request body as a stream body: failing (and telling the edge) past
    /// `max-body-bytes` or `body-timeout`, and failing at once when the edge answered the request.
    fn body_stream(
        &self,
        body: HyperBody,
        declared: Option<u64>,
        failure: Arc<BodyFailure>,
        done: Arc<BodyDone>,
        end: Arc<RequestEnd>,
    ) -> StreamBody {
        let max = self.max_body_bytes;
        let plugin = self.plugin.to_string();
        let mut seen = 0u64;
        let late = failure.clone();
        let chunks = BodyStream::new(body).filter_map(move |frame| {
            let item = match frame {
                Ok(frame) => frame.into_data().ok().map(|data| {
                    seen += data.len() as u64;
                    if seen > max {
                        failure.fail(StatusCode::PAYLOAD_TOO_LARGE);
                        Err(StreamError::TooLarge { plugin: plugin.clone(), max })
                    } else {
                        Ok(data)
                    }
                }),
                Err(e) => Some(Err(StreamError::Source(format!("the HTTP request body failed: {e}")))),
            };
            std::future::ready(item)
        });
        let deadline = Box::pin(tokio::time::sleep(self.body_timeout));
        let ended = Box::pin(end.ended.clone().cancelled_owned());
        let body_timeout = self.body_timeout;
        let tracked = Tracked { chunks: Box::pin(chunks), done, end, ended, deadline, body_timeout, late, over: false };
        let mut stream = StreamBody::new(tracked).with_origin("http");
        stream.size_hint = declared;
        stream
    }
}

/// Set once a request body was read to its end, failed, or was dropped unread.
#[derive(Default)]
pub(crate) struct BodyDone {
    flag: AtomicBool,
    notify: Notify,
}

impl BodyDone {
    fn set(&self) {
        self.flag.store(true, Ordering::Release);
        self.notify.notify_waiters();
    }

    fn is_set(&self) -> bool {
        self.flag.load(Ordering::Acquire)
    }

    async fn wait(&self) {
        loop {
            let notified = self.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.is_set() {
                return;
            }
            notified.await;
        }
    }
}

/// A request body stream that says when it is done with, and ends with the request.
struct Tracked {
    chunks: Pin<Box<dyn futures_util::Stream<Item = Result<Bytes, StreamError>> + Send>>,
    done: Arc<BodyDone>,
    end: Arc<RequestEnd>,
    ended: Pin<Box<tokio_util::sync::WaitForCancellationFutureOwned>>,
    deadline: Pin<Box<tokio::time::Sleep>>,
    body_timeout: Duration,
    /// Told when the body is late (the edge answers 408).
    late: Arc<BodyFailure>,
    /// Whether the stream gave its last item (its end or an error).
    over: bool,
}

impl Tracked {
    fn finish(&mut self, item: Option<Result<Bytes, StreamError>>) -> Poll<Option<Result<Bytes, StreamError>>> {
        self.over = true;
        self.done.set();
        Poll::Ready(item)
    }
}

impl futures_util::Stream for Tracked {
    type Item = Result<Bytes, StreamError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.over {
            return Poll::Ready(None);
        }
        if self.end.ended.is_cancelled()
            && let Some((status, reason)) = self.end.answered()
        {
            return self.finish(Some(Err(StreamError::Ended { status: status.as_u16(), reason })));
        }
        match self.chunks.as_mut().poll_next(cx) {
            Poll::Ready(None) => return self.finish(None),
            Poll::Ready(Some(Err(e))) => return self.finish(Some(Err(e))),
            Poll::Ready(Some(Ok(chunk))) => return Poll::Ready(Some(Ok(chunk))),
            Poll::Pending => {}
        }
        // Waiting for the client: bounded by body-timeout, and by the request's end.
        if self.deadline.as_mut().poll(cx).is_ready() {
            let reason = format!("the body did not arrive within body-timeout ({:?})", self.body_timeout);
            self.late.fail(StatusCode::REQUEST_TIMEOUT);
            return self.finish(Some(Err(StreamError::Ended { status: 408, reason })));
        }
        if self.ended.as_mut().poll(cx).is_ready() {
            let (status, reason) = self.end.answered().unwrap_or((StatusCode::SERVICE_UNAVAILABLE, "answered".into()));
            return self.finish(Some(Err(StreamError::Ended { status: status.as_u16(), reason })));
        }
        Poll::Pending
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        self.done.set();
    }
}

/// A short text response.
fn status(code: StatusCode, text: &str) -> Response<ResponseBody> {
    let mut response = Response::new(full(text.as_bytes().to_vec()));
    *response.status_mut() = code;
    response.headers_mut().insert(http::header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    response
}

/// The response for `reply` to a request that carried `sent`.
fn respond(reply: Reply, sent: &http::HeaderMap) -> Response<ResponseBody> {
    match reply {
        Reply::Status(code, text) => status(code, &text),
        Reply::Exchange(exchange) => from_exchange(*exchange, sent),
    }
}

/// Hop-by-hop and request-only headers a result may carry over from its request: never sent back.
const NOT_ECHOED: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "upgrade",
    "transfer-encoding",
    "content-length",
    "host",
    "expect",
];

/// Headers a route sets for itself, and [`NOT_ECHOED`] ones: never sent back to the client.
fn internal(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    lower.starts_with("camel") || lower == REQUEST_ID_HEADER || NOT_ECHOED.contains(&lower.as_str())
}

/// The header that sets the response status.
pub const RESPONSE_CODE_HEADER: &str = "camel.http.response-code";

/// The statuses a route may answer with: no 1xx (an interim or protocol-switching answer), nothing past 599.
const ROUTE_STATUSES: std::ops::RangeInclusive<u16> = 200..=599;

/// The HTTP response for a route's result: status from `camel.http.response-code`
/// (or `CamelHttpResponseCode`, 200–599), the output message's headers but
/// those the request carried with the same value, and the body.
fn from_exchange(exchange: Exchange, sent: &http::HeaderMap) -> Response<ResponseBody> {
    let message = exchange.output.unwrap_or(exchange.input);
    let asked = [RESPONSE_CODE_HEADER, "CamelHttpResponseCode"]
        .iter()
        .find_map(|name| message.headers.get(*name))
        .map(|v| v.as_u64().or_else(|| v.as_str()?.trim().parse().ok()));
    let code = match asked {
        None => StatusCode::OK,
        Some(Some(n)) if ROUTE_STATUSES.contains(&u16::try_from(n).unwrap_or(0)) => {
            StatusCode::from_u16(n as u16).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
        }
        Some(other) => {
            tracing::warn!("a route set {RESPONSE_CODE_HEADER} to {other:?}; only 200-599 are answered");
            return status(StatusCode::INTERNAL_SERVER_ERROR, &format!("the route set {RESPONSE_CODE_HEADER} outside 200-599"));
        }
    };
    let (body, content_type): (ResponseBody, Option<String>) = match message.body {
        Body::Empty => (full(Vec::new()), None),
        Body::Text(s) => (full(s.into_bytes()), Some("text/plain; charset=utf-8".into())),
        Body::Xml(s) => (full(s.into_bytes()), Some("application/xml".into())),
        Body::Json(v) => (full(v.to_string().into_bytes()), Some("application/json".into())),
        Body::Bytes(b) => (full(b), Some("application/octet-stream".into())),
        Body::Stream(stream) => {
            let content_type = stream.content_type.clone();
            let chunks = stream
                .take()
                .map(|chunks| chunks.map(|chunk| chunk.map(Frame::data).map_err(|e| std::io::Error::other(e.to_string()))));
            match chunks {
                Some(chunks) => (BodyExt::boxed_unsync(HttpStreamBody::new(chunks)), content_type),
                None => (full(Vec::new()), None),
            }
        }
    };
    let mut response = Response::new(body);
    *response.status_mut() = code;
    for (name, value) in &message.headers {
        if internal(name) {
            continue;
        }
        let text = match value {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let (Ok(name), Ok(value)) = (HeaderName::try_from(name.as_str()), HeaderValue::try_from(text)) else { continue };
        // A request header carried through unchanged is not the route's answer: never reflected.
        if sent.get_all(&name).iter().any(|v| v == value) {
            continue;
        }
        response.headers_mut().insert(name, value);
    }
    if let Some(content_type) = content_type
        && !response.headers().contains_key(http::header::CONTENT_TYPE)
        && let Ok(value) = HeaderValue::try_from(content_type)
    {
        response.headers_mut().insert(http::header::CONTENT_TYPE, value);
    }
    response
}

fn full(bytes: Vec<u8>) -> ResponseBody {
    Full::new(Bytes::from(bytes)).map_err(|never| match never {}).boxed_unsync()
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_refusal_past_max_connections_is_a_well_formed_response() {
        let text = std::str::from_utf8(super::REFUSED).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        let length: usize = head.lines().find_map(|l| l.strip_prefix("content-length: ")).unwrap().parse().unwrap();
        assert_eq!(length, body.len());
        assert!(head.starts_with("HTTP/1.1 503 ") && head.contains("connection: close"));
    }
}
