//! [`serve`]: the accept → handle → submit loop, over a [`Port`].

use super::request::rejection;
use super::{Listener, METHOD_PROPERTY, PATH_PROPERTY, Request, Submitted};
use crate::{Error, Exchange};
use std::future::Future;
use std::pin::Pin;
use std::task::Poll;

/// Where [`serve`] gets requests and submits exchanges: the host's
/// [`Listener`], or a scripted mock in the unit tests.
pub(super) trait Port {
    /// The next request; `None` when the source is stopping.
    async fn accept(&self) -> Result<Option<Request>, Error>;
    /// Submits `exchange` into the route.
    async fn submit(&self, exchange: Exchange) -> Result<Submitted, Error>;
    /// Whether the host is stopping the source.
    fn is_cancelled(&self) -> bool;
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
/// - Stops accepting when [`is_cancelled`](super::is_cancelled) is true, when an accept returns
///   `None` or when a submit returns [`Submitted::Stopped`]; lets the
///   requests in flight finish; then waits for every stream body made with
///   [`Body::stream_from`](crate::Body::stream_from) to be drained ([`crate::drained`]) and returns `Ok`.
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
    let result = serve_on(listener, listener.concurrency().max_in_flight(), &handler).await;
    crate::stream::drained().await;
    result
}

/// One request's handling: the handler, then the submit.
async fn handle<P: Port, F>(port: &P, handler: &F, request: Request) -> Result<Submitted, Error>
where
    F: AsyncFn(Request) -> Result<Exchange, Error>,
{
    let id = request.id().map(str::to_owned);
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
pub(super) async fn serve_on<P: Port, F>(port: &P, max: usize, handler: &F) -> Result<(), Error>
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
