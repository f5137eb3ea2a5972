//! The HTTP edge: a hyper server on the bound listener, handing requests to the guest and answering them.
//!
//! No request is left hanging: it gets the guest's (or route's) answer, 404
//! off the served path, 413 over `max-body-bytes`, 503 when the source stops
//! or its guest fails, and 504 after `request-timeout`.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use http::{HeaderName, HeaderValue, Request, Response, StatusCode};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, BodyStream, Full, StreamBody as HttpStreamBody};
use hyper::body::{Frame, Incoming as HyperBody};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::{Notify, mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use super::shared::{Incoming, REQUEST_ID_HEADER, Reply};
use crate::exchange::{Body, Exchange, StreamBody, StreamError};

/// The response body type: whole or streamed.
type ResponseBody = UnsyncBoxBody<Bytes, std::io::Error>;

/// The edge's settings.
#[derive(Clone)]
pub(crate) struct Edge {
    pub(crate) path: Option<String>,
    pub(crate) max_body_bytes: u64,
    pub(crate) request_timeout: Duration,
    pub(crate) requests: mpsc::Sender<Incoming>,
    pub(crate) next_id: Arc<AtomicU64>,
    pub(crate) plugin: Arc<str>,
}

/// Serves `listener` until `cancel`; each connection on its own task.
pub(crate) async fn serve(listener: TcpListener, edge: Edge, cancel: CancellationToken) {
    loop {
        let (stream, _) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    tracing::warn!(plugin = %edge.plugin, "accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
            () = cancel.cancelled() => return,
        };
        let _ = stream.set_nodelay(true);
        let edge = edge.clone();
        let cancel = cancel.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request| {
                let edge = edge.clone();
                async move { Ok::<_, Infallible>(edge.handle(request).await) }
            });
            let connection = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service);
            tokio::pin!(connection);
            tokio::select! {
                _ = connection.as_mut() => {}
                () = cancel.cancelled() => {
                    connection.as_mut().graceful_shutdown();
                    let _ = connection.await;
                }
            }
        });
    }
}

impl Edge {
    async fn handle(&self, request: Request<HyperBody>) -> Response<ResponseBody> {
        let path = request.uri().path().to_string();
        if self.path.as_deref().is_some_and(|served| served != path) {
            return status(StatusCode::NOT_FOUND, "no source serves this path");
        }
        let declared = request.headers().get(http::header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
        if declared.is_some_and(|n| n > self.max_body_bytes) {
            return status(StatusCode::PAYLOAD_TOO_LARGE, &format!("the body is over max-body-bytes ({})", self.max_body_bytes));
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let method = request.method().to_string();
        let mut headers: Vec<(String, String)> = request
            .headers()
            .iter()
            .filter_map(|(name, value)| Some((name.as_str().to_string(), value.to_str().ok()?.to_string())))
            .collect();
        headers.push((REQUEST_ID_HEADER.to_string(), id.to_string()));
        let oversize = Arc::new(Notify::new());
        let cut = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let done = Arc::new(BodyDone::default());
        let body = self.body_stream(request.into_body(), declared, (oversize.clone(), cut.clone()), done.clone());
        let (reply, answer) = oneshot::channel();
        let incoming = Incoming { id, method, path, headers, body, reply };
        let waited = tokio::time::timeout(self.request_timeout, async {
            if self.requests.send(incoming).await.is_err() {
                return status(StatusCode::SERVICE_UNAVAILABLE, "the source is stopped");
            }
            let too_large = || status(StatusCode::PAYLOAD_TOO_LARGE, &format!("the body is over max-body-bytes ({})", self.max_body_bytes));
            let reply = tokio::select! {
                biased;
                () = oversize.notified() => return too_large(),
                answered = answer => match answered {
                    Ok(reply) => reply,
                    Err(_) => return status(StatusCode::SERVICE_UNAVAILABLE, "the source's guest went away before answering"),
                },
            };
            // A body cut at the limit is the answer, whatever the guest made of the cut.
            if cut.load(Ordering::Acquire) {
                return too_large();
            }
            // "Accepted" stands once the body has been read (whoever reads it): an
            // early answer would let the client (or a stop) cut the upload short.
            if matches!(reply, Reply::Status(StatusCode::ACCEPTED, _)) {
                tokio::select! {
                    () = done.wait() => {}
                    () = oversize.notified() => return too_large(),
                }
            }
            respond(reply)
        })
        .await;
        waited.unwrap_or_else(|_| {
            let secs = self.request_timeout.as_secs_f64();
            status(StatusCode::GATEWAY_TIMEOUT, &format!("no answer within request-timeout ({secs} s)"))
        })
    }

    /// The request body as a stream body, failing (and flagging 413) past `max-body-bytes`.
    fn body_stream(
        &self,
        body: HyperBody,
        declared: Option<u64>,
        (oversize, cut): (Arc<Notify>, Arc<std::sync::atomic::AtomicBool>),
        done: Arc<BodyDone>,
    ) -> StreamBody {
        let max = self.max_body_bytes;
        let plugin = self.plugin.to_string();
        let mut seen = 0u64;
        let chunks = BodyStream::new(body).filter_map(move |frame| {
            let item = match frame {
                Ok(frame) => frame.into_data().ok().map(|data| {
                    seen += data.len() as u64;
                    if seen > max {
                        cut.store(true, Ordering::Release);
                        oversize.notify_one();
                        Err(StreamError::TooLarge { plugin: plugin.clone(), max })
                    } else {
                        Ok(data)
                    }
                }),
                Err(e) => Some(Err(StreamError::Source(format!("the HTTP request body failed: {e}")))),
            };
            std::future::ready(item)
        });
        let tracked = Tracked { chunks: Box::pin(chunks), done };
        let mut stream = StreamBody::new(tracked).with_origin("http");
        stream.size_hint = declared;
        stream
    }
}

/// Set once a request body was read to its end, failed, or was dropped unread.
#[derive(Default)]
pub(crate) struct BodyDone {
    flag: std::sync::atomic::AtomicBool,
    notify: Notify,
}

impl BodyDone {
    fn set(&self) {
        self.flag.store(true, Ordering::Release);
        self.notify.notify_waiters();
    }

    async fn wait(&self) {
        loop {
            let notified = self.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.flag.load(Ordering::Acquire) {
                return;
            }
            notified.await;
        }
    }
}

/// A request body stream that says when it is done with.
struct Tracked {
    chunks: std::pin::Pin<Box<dyn futures_util::Stream<Item = Result<Bytes, StreamError>> + Send>>,
    done: Arc<BodyDone>,
}

impl futures_util::Stream for Tracked {
    type Item = Result<Bytes, StreamError>;

    fn poll_next(mut self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<Option<Self::Item>> {
        let next = self.chunks.as_mut().poll_next(cx);
        if matches!(next, std::task::Poll::Ready(None | Some(Err(_)))) {
            self.done.set();
        }
        next
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        self.done.set();
    }
}

/// A short text response.
fn status(code: StatusCode, text: &str) -> Response<ResponseBody> {
    let mut response = Response::new(Full::new(Bytes::from(text.to_string())).map_err(|never| match never {}).boxed_unsync());
    *response.status_mut() = code;
    response.headers_mut().insert(http::header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    response
}

/// The response for `reply`.
fn respond(reply: Reply) -> Response<ResponseBody> {
    match reply {
        Reply::Status(code, text) => status(code, &text),
        Reply::Exchange(exchange) => from_exchange(*exchange),
    }
}

/// Hop-by-hop and request-only headers a result may carry over from its request: never sent back.
const NOT_ECHOED: &[&str] =
    &["connection", "keep-alive", "proxy-connection", "te", "trailer", "upgrade", "transfer-encoding", "content-length", "host", "expect"];

/// Headers a route sets for itself, and [`NOT_ECHOED`] ones: never sent back to the client.
fn internal(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    lower.starts_with("camel") || lower == REQUEST_ID_HEADER || NOT_ECHOED.contains(&lower.as_str())
}

/// The header that sets the response status.
pub const RESPONSE_CODE_HEADER: &str = "camel.http.response-code";

/// The HTTP response for a route's result: status from `camel.http.response-code`
/// (or `CamelHttpResponseCode`), the output message's headers and body.
fn from_exchange(exchange: Exchange) -> Response<ResponseBody> {
    let message = exchange.output.unwrap_or(exchange.input);
    let code = [RESPONSE_CODE_HEADER, "CamelHttpResponseCode"]
        .iter()
        .find_map(|name| message.headers.get(*name))
        .and_then(|v| v.as_u64().or_else(|| v.as_str()?.trim().parse().ok()))
        .and_then(|n| StatusCode::from_u16(u16::try_from(n).ok()?).ok())
        .unwrap_or(StatusCode::OK);
    let (body, content_type): (ResponseBody, Option<String>) = match message.body {
        Body::Empty => (Full::new(Bytes::new()).map_err(|never| match never {}).boxed_unsync(), None),
        Body::Text(s) => (full(s.into_bytes()), Some("text/plain; charset=utf-8".into())),
        Body::Xml(s) => (full(s.into_bytes()), Some("application/xml".into())),
        Body::Json(v) => (full(v.to_string().into_bytes()), Some("application/json".into())),
        Body::Bytes(b) => (full(b), Some("application/octet-stream".into())),
        Body::Stream(stream) => {
            let content_type = stream.content_type.clone();
            let chunks = stream.take().map(|chunks| {
                chunks.map(|chunk| chunk.map(Frame::data).map_err(|e| std::io::Error::other(e.to_string())))
            });
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
        if let (Ok(name), Ok(value)) = (HeaderName::try_from(name.as_str()), HeaderValue::try_from(text)) {
            response.headers_mut().insert(name, value);
        }
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
