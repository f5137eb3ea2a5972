//! The `source` world: a guest that *is* a route's consumer. It declares an
//! HTTP listener in `configure`, then its `run` accepts requests from the host
//! and submits exchanges into the route.
//!
//! [`Source`] is the trait, [`export_source!`](crate::export_source) the
//! export; [`serve`] runs the whole accept → handle → submit loop.
//!
//! # The host's protocol
//!
//! - `configure` gets the pairs `bind` and `path` (when the operator gave
//!   them) plus the user's configuration; the plan must hold exactly one
//!   HTTP listener, whose `bind` equals the operator's.
//! - Each accepted request carries the HTTP headers (lower-case names) plus
//!   [`REQUEST_ID_HEADER`] (`camel-wasm-request-id`), the host's id of the
//!   request. The host matches a submitted exchange to its request by the
//!   exchange's correlation id, else by that header, else takes the request
//!   pending when it is the only one: [`Request::into_exchange`] sets both. A
//!   client's own `camel*` headers never reach the guest.
//! - An in-only exchange is answered `202` once the route accepted it; an
//!   in-out exchange is answered with the route's result (status from the
//!   header [`RESPONSE_CODE_HEADER`], `camel.http.response-code`).
//! - On stop, [`is_cancelled`] turns true, a pending accept returns `None`
//!   and [`submit`] returns [`Submitted::Stopped`].

use crate::bindings::source_host::{
    self as wit, CapabilityRequest, ConcurrencyModel, HttpListener, HttpListenerSpec, HttpRequest, SourcePlan, SubmitOutcome,
};
use crate::bindings::types::WasmError;
use crate::{Body, Config, Error, Exchange, Fields, Pattern};
use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::task::Poll;

/// The header the host adds to each request: the host's id of the request.
pub const REQUEST_ID_HEADER: &str = "camel-wasm-request-id";

/// The header whose value is the HTTP status of the answer to an in-out exchange.
pub const RESPONSE_CODE_HEADER: &str = "camel.http.response-code";

/// The header [`Request::reject`] sets to `direct`: a request to the host to
/// answer the HTTP request with this exchange as it is, without running the
/// route (whether it does is the host's decision; see [`Request::reject`]).
pub const REPLY_HEADER: &str = "camel-wasm-reply";

/// The property [`Request::into_exchange`] sets to the request's HTTP method.
pub const METHOD_PROPERTY: &str = "camel.http.method";

/// The property [`Request::into_exchange`] sets to the request's path.
pub const PATH_PROPERTY: &str = "camel.http.path";

/// How many requests the guest handles at a time.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Concurrency {
    /// One request at a time: accept, handle, submit, then the next.
    #[default]
    Sequential,
    /// Up to this many accepted requests not yet submitted (0 counts as 1).
    Concurrent(u16),
}

impl Concurrency {
    /// The largest number of requests in flight: 1, or `N` (at least 1).
    pub fn max_in_flight(self) -> usize {
        match self {
            Concurrency::Sequential => 1,
            Concurrency::Concurrent(n) => usize::from(n.max(1)),
        }
    }
}

/// What a source asks the host for in `configure`: one HTTP listener and a
/// concurrency model (the WIT `source-plan`).
///
/// ```
/// # use camel_wasm_guest::prelude::*;
/// let plan = Plan::listener("127.0.0.1:8080", Some("/hook")).concurrent(4);
/// assert_eq!(plan.concurrency, Concurrency::Concurrent(4));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    /// The socket address to listen on (`host:port`).
    pub bind: String,
    /// The path the listener accepts requests on; `None`: every path.
    pub path: Option<String>,
    /// How many requests the guest handles at a time.
    pub concurrency: Concurrency,
}

impl Plan {
    /// The `bind` of [`Plan::from_config`] when the configuration has none
    /// (rust-camel's example guest uses the same).
    pub const DEFAULT_BIND: &'static str = "0.0.0.0:8080";

    /// A sequential plan listening on `bind`, for requests to `path` (`None`: any path).
    pub fn listener(bind: impl Into<String>, path: Option<&str>) -> Plan {
        Plan { bind: bind.into(), path: path.map(str::to_owned), concurrency: Concurrency::Sequential }
    }

    /// The plan from the configuration's `bind` (default
    /// [`Plan::DEFAULT_BIND`]) and `path` (default: any path), sequential.
    /// An empty `bind` is a processor error.
    pub fn from_config(config: &Config) -> Result<Plan, Error> {
        let bind = config.get_or("bind", Plan::DEFAULT_BIND);
        if bind.trim().is_empty() {
            return Err(Error::processor("source: config 'bind' is empty"));
        }
        Ok(Plan::listener(bind, config.get("path")))
    }

    /// Handles up to `n` requests at a time (see [`Concurrency::Concurrent`]).
    pub fn concurrent(mut self, n: u16) -> Plan {
        self.concurrency = Concurrency::Concurrent(n);
        self
    }

    /// Handles one request at a time.
    pub fn sequential(mut self) -> Plan {
        self.concurrency = Concurrency::Sequential;
        self
    }
}

impl From<Plan> for SourcePlan {
    fn from(plan: Plan) -> Self {
        SourcePlan {
            capabilities: vec![CapabilityRequest::HttpListener(HttpListenerSpec { bind: plan.bind, path: plan.path })],
            concurrency: match plan.concurrency {
                Concurrency::Sequential => ConcurrencyModel::Sequential,
                Concurrency::Concurrent(n) => ConcurrencyModel::Concurrent(n),
            },
        }
    }
}

/// The outcome of [`submit`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Submitted {
    /// The route took the exchange (its stream body, if any, may still be draining).
    Accepted,
    /// The source is stopping: the exchange was not taken; stop, and return from `run`.
    Stopped,
}

impl From<SubmitOutcome> for Submitted {
    fn from(outcome: SubmitOutcome) -> Self {
        match outcome {
            SubmitOutcome::Accepted => Submitted::Accepted,
            SubmitOutcome::Stopped => Submitted::Stopped,
        }
    }
}

/// Submits `exchange` into the route (`submit-exchange`).
///
/// Returns once the route took the exchange, before a stream body has been
/// read: keep `run` going until it has (the SDK's `run` adapter waits for the
/// stream bodies made with [`Body::stream_from`] before returning; a request
/// body passed on unread is the host's own stream and needs nothing).
pub async fn submit(exchange: Exchange) -> Result<Submitted, Error> {
    Ok(wit::submit_exchange(exchange.into()).await?.into())
}

/// Whether the host is stopping this source (`is-cancelled`; never waits).
pub fn is_cancelled() -> bool {
    wit::is_cancelled()
}

/// One HTTP request accepted from the host.
///
/// `headers` are the HTTP headers, with lower-case names, plus
/// [`REQUEST_ID_HEADER`]; as everywhere in the SDK their values are JSON-aware
/// [`Fields`] (a `content-length` of `5` reads as the number 5), and
/// [`Request::header`] gives a header's text exactly as received. `body` is a
/// [`Body::Stream`] (from the host); read it with [`Request::read_body`] or
/// `take_body().into_reader()`, or pass it on unread.
#[derive(Debug, PartialEq)]
pub struct Request {
    /// The HTTP method (`GET`, `POST`, ...).
    pub method: String,
    /// The request path (as the host gives it).
    pub path: String,
    /// The headers.
    pub headers: Fields,
    /// The body: a stream, unless taken.
    pub body: Body,
    id: Option<String>,
}

impl Request {
    /// A request, as the host would deliver it; the id is the
    /// [`REQUEST_ID_HEADER`] header's value, if any. For unit tests of handlers.
    pub fn new(
        method: impl Into<String>,
        path: impl Into<String>,
        headers: Vec<(String, String)>,
        body: impl Into<Body>,
    ) -> Request {
        let headers = Fields::from_wire(headers);
        let id = headers.wire(REQUEST_ID_HEADER).map(str::to_owned);
        Request { method: method.into(), path: path.into(), headers, body: body.into(), id }
    }

    /// The host's id of this request (the [`REQUEST_ID_HEADER`] header as it
    /// arrived), if the host sent one.
    pub fn id(&self) -> Option<&str> {
        self.id.as_deref()
    }

    /// A header's text exactly as received; `name` is matched lower-cased.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.wire(&name.to_ascii_lowercase())
    }

    /// Takes the body out, leaving [`Body::Empty`].
    pub fn take_body(&mut self) -> Body {
        std::mem::take(&mut self.body)
    }

    /// Takes the body out and reads it whole; more than `limit` bytes is the
    /// processor error `body larger than LIMIT bytes`, and a failed stream its
    /// error. The body is [`Body::Empty`] afterwards: set the exchange's body
    /// yourself.
    pub async fn read_body(&mut self, limit: usize) -> Result<Vec<u8>, Error> {
        self.take_body().into_reader().read_all(limit).await
    }

    /// An in-only exchange of this request: input headers = the request's
    /// (with [`REQUEST_ID_HEADER`]), input body = the request's body (its
    /// stream, passed on unread, unless taken), correlation id = the request's
    /// id (empty if none), and properties [`METHOD_PROPERTY`] and
    /// [`PATH_PROPERTY`]. The host answers `202` once the route took it.
    pub fn into_exchange(self) -> Exchange {
        let mut exchange =
            Exchange { correlation_id: self.id.unwrap_or_default(), pattern: Pattern::InOnly, ..Exchange::default() };
        exchange.input.headers = self.headers;
        exchange.input.body = self.body;
        exchange.set_property(METHOD_PROPERTY, self.method);
        exchange.set_property(PATH_PROPERTY, self.path);
        exchange
    }

    /// [`Request::into_exchange`], in-out: the route's result becomes the HTTP
    /// response (its status from the header [`RESPONSE_CODE_HEADER`]).
    pub fn into_exchange_in_out(self) -> Exchange {
        let mut exchange = self.into_exchange();
        exchange.pattern = Pattern::InOut;
        exchange
    }

    /// An exchange that answers this request with `status` and the text
    /// `message`, for a request the guest refuses (a bad signature: 401):
    /// in-out, correlation id = the request's id, input headers
    /// [`REQUEST_ID_HEADER`] (the id), [`RESPONSE_CODE_HEADER`] = `status`,
    /// [`REPLY_HEADER`] = `direct` and `content-type: text/plain;
    /// charset=utf-8` (none of the request's other headers), body = `message`
    /// as text (empty if `message` is), properties as [`Request::into_exchange`].
    /// The request body is dropped unread.
    ///
    /// Submit it like any exchange. `camel-wasm-reply: direct` asks the host
    /// to answer with it without running the route; a host that does not
    /// honour it runs the route with it (so the route sees the rejection, not
    /// the request) and answers with the route's result. Not submitting the
    /// request at all would instead have it answered `202` (sequential), and
    /// in concurrent mode keep it counted as in flight.
    pub fn reject(self, status: u16, message: impl Into<String>) -> Exchange {
        let mut exchange = rejection(self.id.as_deref(), status, message.into());
        exchange.set_property(METHOD_PROPERTY, self.method);
        exchange.set_property(PATH_PROPERTY, self.path);
        exchange
    }
}

/// The exchange of [`Request::reject`], without the method and path properties.
fn rejection(id: Option<&str>, status: u16, message: String) -> Exchange {
    let mut exchange = Exchange::new(if message.is_empty() { Body::Empty } else { Body::Text(message) });
    exchange.pattern = Pattern::InOut;
    if let Some(id) = id {
        exchange.correlation_id = id.to_owned();
        exchange.set_header(REQUEST_ID_HEADER, id);
    }
    exchange.set_header(RESPONSE_CODE_HEADER, status);
    exchange.set_header(REPLY_HEADER, "direct");
    exchange.set_header("content-type", "text/plain; charset=utf-8");
    exchange
}

impl From<HttpRequest> for Request {
    fn from(request: HttpRequest) -> Self {
        Request::new(request.method, request.path, request.headers, Body::Stream(request.body.into()))
    }
}

/// The host's HTTP listener, as `run` gets it, with the plan's concurrency
/// and the configuration `configure` got.
pub struct Listener<'a> {
    handle: &'a HttpListener,
    concurrency: Concurrency,
    config: Config,
}

impl Listener<'_> {
    /// The next request; `None` when the source is stopping (then return
    /// `Ok(())` from `run`).
    pub async fn accept(&self) -> Result<Option<Request>, Error> {
        Ok(wit::accept_http(self.handle).await?.map(Request::from))
    }

    /// The concurrency of the plan `configure` returned.
    pub fn concurrency(&self) -> Concurrency {
        self.concurrency
    }

    /// The configuration `configure` got.
    pub fn config(&self) -> &Config {
        &self.config
    }
}

impl std::fmt::Debug for Listener<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Listener").field("concurrency", &self.concurrency).field("config", &self.config).finish_non_exhaustive()
    }
}

/// Where [`serve`] gets requests and submits exchanges: the host, or a mock in tests.
trait Port {
    async fn accept(&self) -> Result<Option<Request>, Error>;
    async fn submit(&self, exchange: Exchange) -> Result<Submitted, Error>;
    fn is_cancelled(&self) -> bool;
}

impl Port for Listener<'_> {
    async fn accept(&self) -> Result<Option<Request>, Error> {
        Listener::accept(self).await
    }

    async fn submit(&self, exchange: Exchange) -> Result<Submitted, Error> {
        submit(exchange).await
    }

    fn is_cancelled(&self) -> bool {
        is_cancelled()
    }
}

/// Runs the accept → handle → submit loop on `listener` until the source
/// stops, with `handler` turning each request into the exchange to submit
/// (e.g. `req.into_exchange()`, or `req.reject(401, "...")`).
///
/// - Sequential plans: one request at a time. `Concurrent(N)`: up to `N`
///   requests in flight (accepted and not yet submitted), their handlers
///   running concurrently in this task (interleaved at their `.await`s).
/// - Every accepted request is submitted exactly once. A handler error
///   submits `req.reject(500, error text)` instead, and the loop goes on.
/// - Stops accepting when [`is_cancelled`] is true, when an accept returns
///   `None` or when a submit returns [`Submitted::Stopped`]; lets the
///   requests in flight finish; then waits for every stream body made with
///   [`Body::stream_from`] to be drained ([`crate::drained`]) and returns `Ok`.
/// - An accept error also stops it, and is returned: the requests in flight
///   finish. A submit error ends only its own request (the host refused it,
///   for instance because it had answered it already with a 504); it is
///   written to stderr and the loop goes on.
///
/// ```no_run
/// # use camel_wasm_guest::prelude::*;
/// struct Hook;
/// impl Source for Hook {
///     async fn run(listener: Listener<'_>) -> Result<(), Error> {
///         serve(&listener, async |req: Request| {
///             let mut ex = req.into_exchange();
///             ex.set_header("x-source", "hook");
///             Ok(ex)
///         })
///         .await
///     }
/// }
/// export_source!(Hook);
/// ```
pub async fn serve<F>(listener: &Listener<'_>, handler: F) -> Result<(), Error>
where
    F: AsyncFn(Request) -> Result<Exchange, Error>,
{
    let result = serve_on(listener, listener.concurrency.max_in_flight(), &handler).await;
    crate::stream::drained().await;
    result
}

/// One request's handling: the handler, then the submit.
async fn handle<P: Port, F>(port: &P, handler: &F, request: Request) -> Result<Submitted, Error>
where
    F: AsyncFn(Request) -> Result<Exchange, Error>,
{
    let id = request.id.clone();
    let (method, path) = (request.method.clone(), request.path.clone());
    let exchange = match handler(request).await {
        Ok(exchange) => exchange,
        Err(error) => {
            let mut exchange = rejection(id.as_deref(), 500, error.to_string());
            exchange.set_property(METHOD_PROPERTY, method);
            exchange.set_property(PATH_PROPERTY, path);
            exchange
        }
    };
    port.submit(exchange).await
}

/// The loop of [`serve`], with up to `max` requests in flight.
async fn serve_on<P: Port, F>(port: &P, max: usize, handler: &F) -> Result<(), Error>
where
    F: AsyncFn(Request) -> Result<Exchange, Error>,
{
    type Boxed<'a, T> = Pin<Box<dyn Future<Output = T> + 'a>>;
    let max = max.max(1);
    let mut accepting: Option<Boxed<'_, Result<Option<Request>, Error>>> = None;
    let mut in_flight: Vec<Boxed<'_, Result<Submitted, Error>>> = Vec::new();
    let mut open = true;
    let mut first_error: Option<Error> = None;

    std::future::poll_fn(|cx| {
        loop {
            let mut progressed = false;
            if open && accepting.is_none() && in_flight.len() < max {
                if port.is_cancelled() {
                    open = false;
                } else {
                    accepting = Some(Box::pin(port.accept()));
                }
            }
            let accepted = match accepting.as_mut() {
                Some(accept) => accept.as_mut().poll(cx),
                None => Poll::Pending,
            };
            if let Poll::Ready(accepted) = accepted {
                accepting = None;
                progressed = true;
                match accepted {
                    Ok(Some(request)) => in_flight.push(Box::pin(handle(port, handler, request))),
                    Ok(None) => open = false,
                    Err(error) => {
                        open = false;
                        first_error.get_or_insert(error);
                    }
                }
            }
            let mut i = 0;
            while i < in_flight.len() {
                match in_flight[i].as_mut().poll(cx) {
                    Poll::Pending => i += 1,
                    Poll::Ready(outcome) => {
                        // Order does not matter: each is polled every turn.
                        drop(in_flight.swap_remove(i));
                        progressed = true;
                        match outcome {
                            Ok(Submitted::Accepted) => {}
                            Ok(Submitted::Stopped) => open = false,
                            // One request's submit failed (the host answered it
                            // already, say): that request is over, the others go on.
                            Err(error) => eprintln!("camel-wasm-guest: a submitted exchange failed: {error}"),
                        }
                    }
                }
            }
            if !progressed {
                break;
            }
        }
        if !open && accepting.is_none() && in_flight.is_empty() { Poll::Ready(()) } else { Poll::Pending }
    })
    .await;
    first_error.map_or(Ok(()), Err)
}

/// A source: a guest that accepts HTTP requests from the host and submits
/// exchanges into the route. Export it with [`export_source!`](crate::export_source).
///
/// ```no_run
/// # use camel_wasm_guest::prelude::*;
/// struct Echo;
/// impl Source for Echo {
///     // The default `configure`: a sequential listener on the config's `bind` and `path`.
///     async fn run(listener: Listener<'_>) -> Result<(), Error> {
///         serve(&listener, async |req: Request| Ok(req.into_exchange_in_out())).await
///     }
/// }
/// export_source!(Echo);
/// ```
#[allow(async_fn_in_trait)]
pub trait Source {
    /// Called once after instantiation with the operator's `bind`/`path` and
    /// the user's configuration; returns the plan (one HTTP listener, whose
    /// `bind` must be the operator's). An error fails the endpoint. The
    /// default is [`Plan::from_config`]. `config` is kept for
    /// [`Listener::config`].
    fn configure(config: Config) -> Result<Plan, Error> {
        Plan::from_config(&config)
    }

    /// Runs the source on the granted listener until it stops: accept
    /// requests and submit exchanges (usually with [`serve`]); return `Ok(())`
    /// when [`Listener::accept`] returns `None` or [`submit`] returns
    /// [`Submitted::Stopped`]. After it returns, the adapter waits for every
    /// stream body made with [`Body::stream_from`] to be drained
    /// ([`crate::drained`]) before `run` returns to the host.
    async fn run(listener: Listener<'_>) -> Result<(), Error>;
}

thread_local! {
    /// The configuration and concurrency of the last `configure`.
    static CONFIGURED: RefCell<(Config, Concurrency)> = RefCell::default();
}

/// Support for [`export_source!`](crate::export_source); not public API.
#[doc(hidden)]
pub mod export {
    use super::*;
    use crate::stream::Constructors;

    /// The exported `configure`.
    pub fn configure<T: Source>(config: Vec<(String, String)>) -> Result<SourcePlan, WasmError> {
        let config = Config::from(config);
        let plan = T::configure(config.clone())?;
        CONFIGURED.with(|c| *c.borrow_mut() = (config, plan.concurrency));
        Ok(plan.into())
    }

    /// The exported `run`.
    pub async fn run<T: Source>(listener: &HttpListener) -> Result<(), WasmError> {
        // The world's own bindings (generated in the guest crate) have no
        // stream constructors, as its functions take no stream: use the
        // shared ones, which `source-host` functions (imported by a source) anchor.
        crate::stream::install(Constructors {
            stream: crate::bindings::shared::wit_stream::new::<u8>,
            terminal: || crate::bindings::shared::wit_future::new(|| Ok(())),
        });
        let (config, concurrency) = CONFIGURED.with(|c| c.borrow().clone());
        let listener = Listener { handle: listener, concurrency, config };
        let result = T::run(listener).await;
        crate::stream::drained().await;
        Ok(result?)
    }
}

/// Exports a [`Source`] as this component's `source` world: `export_source!(MySource);`
///
/// Unlike the other worlds' exports, this one generates the `source` world's
/// bindings in the invoking crate (see [`crate::bindings`] for why), from the
/// WIT below, a copy of `types.wit` and `source.wit` without comments (a unit
/// test checks it against the SDK's `wit/`); they reuse the SDK's `types` and
/// `source-host` bindings.
#[macro_export]
macro_rules! export_source {
    ($source:ty) => {
        const _: () = {
            #[allow(dead_code, unused_imports, clippy::all)]
            mod camel_wasm_source_world {
                $crate::__private::wit_bindgen::generate!({
                    // No `path`: do not read the invoking crate's `wit/`.
                    path: [],
                    inline: r#"
package camel:plugin@1.0.0;
interface types {
    record stream-body-handle {
        %stream: stream<u8>,
        terminal: future<result<_, wasm-error>>,
        size-hint: option<u64>,
        content-type: option<string>,
        origin: option<string>,
    }
    variant wasm-body {
        empty,
        text(string),
        bytes(list<u8>),
        json(string),
        xml(string),
        %stream(stream-body-handle),
    }
    enum wasm-pattern {
        in-only,
        in-out,
    }
    record wasm-message {
        headers: list<tuple<string, string>>,
        body: wasm-body,
    }
    record wasm-exchange {
        input: wasm-message,
        output: option<wasm-message>,
        properties: list<tuple<string, string>>,
        pattern: wasm-pattern,
        correlation-id: string,
        route-id: option<string>,
        message-id: option<string>,
    }
    variant wasm-error {
        processor-error(string),
        type-conversion(string),
        io(string),
        timeout,
    }
}
interface source-host {
    use types.{wasm-exchange, wasm-error, stream-body-handle};
    resource http-listener;
    record http-request {
        method: string,
        path: string,
        headers: list<tuple<string, string>>,
        body: stream-body-handle,
    }
    record http-listener-spec {
        bind: string,
        path: option<string>,
    }
    variant capability-request {
        http-listener(http-listener-spec),
    }
    variant concurrency-model {
        sequential,
        concurrent(u16),
    }
    record source-plan {
        capabilities: list<capability-request>,
        concurrency: concurrency-model,
    }
    variant submit-outcome {
        accepted,
        stopped,
    }
    accept-http: async func(listener: borrow<http-listener>)
        -> result<option<http-request>, wasm-error>;
    submit-exchange: async func(exchange: wasm-exchange)
        -> result<submit-outcome, wasm-error>;
    is-cancelled: func() -> bool;
}
world source {
    import source-host;
    use types.{wasm-exchange, wasm-error};
    use source-host.{source-plan, http-listener};
    export configure: func(config: list<tuple<string, string>>)
        -> result<source-plan, wasm-error>;
    export run: async func(listener: borrow<http-listener>) -> result<_, wasm-error>;
}
"#,
                    world: "camel:plugin/source",
                    with: {
                        "camel:plugin/types@1.0.0": ::camel_wasm_guest::bindings::types,
                        "camel:plugin/source-host@1.0.0": ::camel_wasm_guest::bindings::source_host,
                    },
                    runtime_path: "::camel_wasm_guest::__private::wit_bindgen::rt",
                });
            }

            struct CamelWasmSourceExport;

            impl camel_wasm_source_world::Guest for CamelWasmSourceExport {
                fn configure(
                    config: ::std::vec::Vec<(::std::string::String, ::std::string::String)>,
                ) -> ::std::result::Result<$crate::bindings::source_host::SourcePlan, $crate::bindings::types::WasmError>
                {
                    $crate::__private::source::configure::<$source>(config)
                }

                async fn run(
                    listener: &$crate::bindings::source_host::HttpListener,
                ) -> ::std::result::Result<(), $crate::bindings::types::WasmError> {
                    $crate::__private::source::run::<$source>(listener).await
                }
            }

            camel_wasm_source_world::export!(
                CamelWasmSourceExport with_types_in camel_wasm_source_world
            );
        };
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bindings::types::WasmExchange;
    use std::cell::{Cell, RefCell};
    use std::collections::VecDeque;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::task::{Context, Wake, Waker};

    fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    struct Flag(AtomicBool);

    impl Wake for Flag {
        fn wake(self: Arc<Self>) {
            self.0.store(true, Ordering::SeqCst);
        }
    }

    /// Runs `f` to completion; panics if it waits without having been woken
    /// (nothing else could wake it here: a deadlock).
    fn block_on<F: Future>(f: F) -> F::Output {
        let flag = Arc::new(Flag(AtomicBool::new(false)));
        let waker = Waker::from(flag.clone());
        let mut cx = Context::from_waker(&waker);
        let mut f = std::pin::pin!(f);
        for _ in 0..100_000 {
            if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
                return v;
            }
            assert!(flag.0.swap(false, Ordering::SeqCst), "deadlock: pending, not woken");
        }
        panic!("did not finish");
    }

    /// Returns `Pending` `n` times (waking itself), then `Ready`: an `.await`
    /// that lets the other futures run.
    async fn yield_times(n: usize) {
        let mut left = n;
        std::future::poll_fn(|cx| {
            if left == 0 {
                Poll::Ready(())
            } else {
                left -= 1;
                cx.waker().wake_by_ref();
                Poll::Pending
            }
        })
        .await
    }

    /// A scripted host: requests to accept, then `None` (or an error);
    /// records what was submitted, answers with `outcomes` (then `Accepted`).
    #[derive(Default)]
    struct Mock {
        requests: RefCell<VecDeque<Request>>,
        accept_error: Option<Error>,
        outcomes: RefCell<VecDeque<Result<Submitted, Error>>>,
        submitted: RefCell<Vec<Exchange>>,
        accepts: Cell<usize>,
        cancel_after: Option<usize>,
        /// Accepts after the scripted requests never return.
        hang: bool,
    }

    impl Mock {
        fn with_requests(n: usize) -> Mock {
            let requests = (0..n)
                .map(|i| {
                    Request::new(
                        "POST",
                        format!("/r/{i}"),
                        pairs(&[(REQUEST_ID_HEADER, &i.to_string()), ("x-n", "v")]),
                        format!("body {i}"),
                    )
                })
                .collect();
            Mock { requests: RefCell::new(requests), ..Mock::default() }
        }

        fn submitted_ids(&self) -> Vec<String> {
            self.submitted.borrow().iter().map(|e| e.correlation_id.clone()).collect()
        }
    }

    impl Port for Mock {
        async fn accept(&self) -> Result<Option<Request>, Error> {
            yield_times(1).await;
            if self.hang && self.requests.borrow().is_empty() {
                std::future::pending::<()>().await;
            }
            self.accepts.set(self.accepts.get() + 1);
            match self.requests.borrow_mut().pop_front() {
                Some(request) => Ok(Some(request)),
                None => match &self.accept_error {
                    Some(e) => Err(e.clone()),
                    None => Ok(None),
                },
            }
        }

        async fn submit(&self, exchange: Exchange) -> Result<Submitted, Error> {
            yield_times(1).await;
            self.submitted.borrow_mut().push(exchange);
            self.outcomes.borrow_mut().pop_front().unwrap_or(Ok(Submitted::Accepted))
        }

        fn is_cancelled(&self) -> bool {
            self.cancel_after.is_some_and(|n| self.accepts.get() >= n)
        }
    }

    /// The WIT without comments and blank lines.
    fn strip(wit: &str) -> Vec<&str> {
        wit.lines().filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with("//")).collect()
    }

    #[test]
    fn export_source_carries_the_sdk_wit() {
        let source = include_str!("source.rs");
        let start = source.find("inline: r#\"").unwrap() + "inline: r#\"".len();
        let end = start + source[start..].find("\"#,").unwrap();
        let inline = strip(&source[start..end]);
        let types = strip(include_str!("../wit/types.wit"));
        let world = strip(include_str!("../wit/source.wit"));
        assert_eq!(world[0], types[0], "one package");
        let expected: Vec<&str> = types.iter().chain(&world[1..]).copied().collect();
        assert_eq!(inline, expected, "export_source!'s inline WIT differs from wit/types.wit + wit/source.wit: update it");
    }

    #[test]
    fn plans() {
        let config: Config = [("bind", "127.0.0.1:9000"), ("path", "/hook"), ("secret", "s")].into_iter().collect();
        let plan = Plan::from_config(&config).unwrap();
        assert_eq!(plan, Plan::listener("127.0.0.1:9000", Some("/hook")));
        assert_eq!(plan.concurrency, Concurrency::Sequential);
        let default = Plan::from_config(&Config::default()).unwrap();
        assert_eq!((default.bind.as_str(), default.path), (Plan::DEFAULT_BIND, None));
        let empty: Config = [("bind", " ")].into_iter().collect();
        assert!(Plan::from_config(&empty).is_err());

        let wire = SourcePlan::from(plan.concurrent(3));
        assert_eq!(
            format!("{wire:?}"),
            format!(
                "{:?}",
                SourcePlan {
                    capabilities: vec![CapabilityRequest::HttpListener(HttpListenerSpec {
                        bind: "127.0.0.1:9000".into(),
                        path: Some("/hook".into()),
                    })],
                    concurrency: ConcurrencyModel::Concurrent(3),
                }
            )
        );
        let seq = SourcePlan::from(Plan::listener("a:1", None).concurrent(2).sequential());
        assert!(matches!(seq.concurrency, ConcurrencyModel::Sequential));
        assert_eq!(Concurrency::Sequential.max_in_flight(), 1);
        assert_eq!(Concurrency::Concurrent(0).max_in_flight(), 1);
        assert_eq!(Concurrency::Concurrent(8).max_in_flight(), 8);
    }

    #[test]
    fn requests_become_exchanges_that_carry_the_id() {
        let headers = pairs(&[(REQUEST_ID_HEADER, "42"), ("content-length", "5"), ("x-signature", "sha256=ab")]);
        let request = Request::new("POST", "/hook", headers.clone(), "hello");
        assert_eq!(request.id(), Some("42"));
        assert_eq!(request.header("X-Signature"), Some("sha256=ab"));
        assert_eq!(request.header("content-length"), Some("5"));
        assert_eq!(request.header("missing"), None);

        let ex = request.into_exchange();
        assert_eq!(ex.pattern, Pattern::InOnly);
        assert_eq!(ex.correlation_id, "42");
        assert_eq!(ex.body(), &Body::Text("hello".into()));
        assert_eq!(ex.property_str(METHOD_PROPERTY), Some("POST"));
        assert_eq!(ex.property_str(PATH_PROPERTY), Some("/hook"));
        let wire = WasmExchange::from(ex);
        assert_eq!(wire.input.headers, headers, "headers go back exactly");

        let in_out = Request::new("GET", "/", headers, Body::Empty).into_exchange_in_out();
        assert_eq!(in_out.pattern, Pattern::InOut);
        assert_eq!(in_out.correlation_id, "42");

        let anonymous = Request::new("GET", "/", vec![], Body::Empty);
        assert_eq!(anonymous.id(), None);
        assert_eq!(anonymous.into_exchange().correlation_id, "");
    }

    #[test]
    fn read_body_takes_the_body() {
        let mut request = Request::new("POST", "/", vec![], "abc");
        assert_eq!(block_on(request.read_body(3)), Ok(b"abc".to_vec()));
        assert!(request.body.is_empty());
        let mut big = Request::new("POST", "/", vec![], "abcd");
        assert_eq!(block_on(big.read_body(3)), Err(Error::processor("body larger than 3 bytes")));
    }

    #[test]
    fn rejections_answer_directly() {
        let request = Request::new("POST", "/hook", pairs(&[(REQUEST_ID_HEADER, "7"), ("x-secret-stuff", "1")]), "payload");
        let ex = request.reject(401, "bad signature");
        assert_eq!(ex.pattern, Pattern::InOut);
        assert_eq!(ex.correlation_id, "7");
        assert_eq!(ex.body(), &Body::Text("bad signature".into()));
        assert_eq!(ex.property_str(PATH_PROPERTY), Some("/hook"));
        let wire = WasmExchange::from(ex);
        assert_eq!(
            wire.input.headers,
            pairs(&[
                (REQUEST_ID_HEADER, "7"),
                (RESPONSE_CODE_HEADER, "401"),
                (REPLY_HEADER, "direct"),
                ("content-type", "text/plain; charset=utf-8"),
            ])
            .into_iter()
            .collect::<std::collections::BTreeMap<_, _>>()
            .into_iter()
            .collect::<Vec<_>>()
        );
        let empty = Request::new("GET", "/", vec![], Body::Empty).reject(204, "");
        assert!(empty.body().is_empty());
        assert_eq!(empty.correlation_id, "");
    }

    #[test]
    fn sequential_serve_submits_each_request_in_order() {
        let mock = Mock::with_requests(3);
        let in_flight = Cell::new(0);
        let max_seen = Cell::new(0);
        let result = block_on(serve_on(&mock, 1, &async |req: Request| {
            in_flight.set(in_flight.get() + 1);
            max_seen.set(max_seen.get().max(in_flight.get()));
            yield_times(3).await;
            in_flight.set(in_flight.get() - 1);
            let mut ex = req.into_exchange();
            ex.set_header("x-handled", true);
            Ok(ex)
        }));
        assert_eq!(result, Ok(()));
        assert_eq!(mock.submitted_ids(), ["0", "1", "2"]);
        assert_eq!(max_seen.get(), 1);
        assert_eq!(mock.accepts.get(), 4, "three requests, then None");
        let first = &mock.submitted.borrow()[0];
        assert_eq!(first.header_str("x-handled"), Some("true"));
        assert_eq!(first.header_str("x-n"), Some("v"));
        assert_eq!(first.body(), &Body::Text("body 0".into()));
    }

    #[test]
    fn concurrent_serve_keeps_up_to_n_in_flight() {
        let mock = Mock::with_requests(10);
        let in_flight = Cell::new(0);
        let max_seen = Cell::new(0);
        let result = block_on(serve_on(&mock, 3, &async |req: Request| {
            in_flight.set(in_flight.get() + 1);
            max_seen.set(max_seen.get().max(in_flight.get()));
            // Later requests finish first: completion order differs from arrival.
            let n: usize = req.id().unwrap().parse().unwrap();
            yield_times((10 - n) * 5).await;
            in_flight.set(in_flight.get() - 1);
            Ok(req.into_exchange())
        }));
        assert_eq!(result, Ok(()));
        assert_eq!(max_seen.get(), 3);
        let mut ids = mock.submitted_ids();
        assert_ne!(ids, (0..10).map(|i| i.to_string()).collect::<Vec<_>>());
        ids.sort_by_key(|id| id.parse::<u32>().unwrap());
        assert_eq!(ids, (0..10).map(|i| i.to_string()).collect::<Vec<_>>());
    }

    #[test]
    fn handler_errors_are_answered_500_and_serving_goes_on() {
        let mock = Mock::with_requests(2);
        let result = block_on(serve_on(&mock, 1, &async |req: Request| {
            if req.id() == Some("0") {
                return Err(Error::processor("bad payload"));
            }
            Ok(req.into_exchange())
        }));
        assert_eq!(result, Ok(()));
        let submitted = mock.submitted.borrow();
        assert_eq!(submitted.len(), 2);
        let rejected = &submitted[0];
        assert_eq!(rejected.pattern, Pattern::InOut);
        assert_eq!(rejected.correlation_id, "0");
        assert_eq!(rejected.header_str(RESPONSE_CODE_HEADER), Some("500"));
        assert_eq!(rejected.header_str(REPLY_HEADER), Some("direct"));
        assert_eq!(rejected.body(), &Body::Text("processor error: bad payload".into()));
        assert_eq!(rejected.property_str(METHOD_PROPERTY), Some("POST"));
        assert_eq!(submitted[1].pattern, Pattern::InOnly);
    }

    #[test]
    fn stopped_ends_serving_after_the_requests_in_flight() {
        let mock = Mock::with_requests(10);
        mock.outcomes.borrow_mut().extend([Ok(Submitted::Accepted), Ok(Submitted::Stopped)]);
        let result = block_on(serve_on(&mock, 1, &async |req: Request| Ok(req.into_exchange())));
        assert_eq!(result, Ok(()));
        assert_eq!(mock.submitted_ids(), ["0", "1"]);

        // Concurrent: the other requests in flight still finish.
        let mock = Mock::with_requests(10);
        mock.outcomes.borrow_mut().push_back(Ok(Submitted::Stopped));
        let result = block_on(serve_on(&mock, 4, &async |req: Request| Ok(req.into_exchange())));
        assert_eq!(result, Ok(()));
        let n = mock.submitted.borrow().len();
        assert!((2..=5).contains(&n), "{n} submitted");
        assert!(n < 10);
    }

    #[test]
    fn errors_stop_serving_and_are_returned() {
        let mut mock = Mock::with_requests(1);
        mock.accept_error = Some(Error::io("listener gone"));
        let result = block_on(serve_on(&mock, 2, &async |req: Request| Ok(req.into_exchange())));
        assert_eq!(result, Err(Error::io("listener gone")));
        assert_eq!(mock.submitted_ids(), ["0"]);
    }

    #[test]
    fn a_failed_submit_ends_its_request_only() {
        // The host refuses one exchange (its request was answered 504 already): the others go on.
        let mock = Mock::with_requests(5);
        mock.outcomes.borrow_mut().push_back(Err(Error::processor("the request was already answered 504")));
        let result = block_on(serve_on(&mock, 1, &async |req: Request| Ok(req.into_exchange())));
        assert_eq!(result, Ok(()));
        assert_eq!(mock.submitted_ids(), ["0", "1", "2", "3", "4"]);
    }

    #[test]
    fn cancellation_stops_accepting() {
        let mut mock = Mock::with_requests(5);
        mock.cancel_after = Some(2);
        let result = block_on(serve_on(&mock, 1, &async |req: Request| Ok(req.into_exchange())));
        assert_eq!(result, Ok(()));
        assert_eq!(mock.submitted_ids(), ["0", "1"]);
        assert_eq!(mock.accepts.get(), 2);
    }

    #[test]
    fn no_requests_returns_at_once() {
        let mock = Mock::default();
        let calls = Cell::new(0);
        let result = block_on(serve_on(&mock, 8, &async |req: Request| {
            calls.set(calls.get() + 1);
            Ok(req.into_exchange())
        }));
        assert_eq!((result, calls.get(), mock.accepts.get()), (Ok(()), 0, 1));
    }
}
