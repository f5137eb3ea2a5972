//! The host side of a source: [`submit`], [`is_cancelled`] and the [`Listener`] `run` gets.

use super::serve::Port;
use super::{Concurrency, Request};
use crate::bindings::source_host::{self as wit, HttpListener, SubmitOutcome};
use crate::{Config, Error, Exchange};

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
/// stream bodies made with [`Body::stream_from`](crate::Body::stream_from) before returning; a request
/// body passed on unread is the host's own stream and needs nothing).
pub async fn submit(exchange: Exchange) -> Result<Submitted, Error> {
    Ok(wit::submit_exchange(exchange.into()).await?.into())
}

/// Whether the host is stopping this source (`is-cancelled`; never waits).
pub fn is_cancelled() -> bool {
    wit::is_cancelled()
}

/// The host's HTTP listener, as `run` gets it, with the plan's concurrency
/// and the configuration `configure` got.
pub struct Listener<'a> {
    handle: &'a HttpListener,
    concurrency: Concurrency,
    config: Config,
}

impl<'a> Listener<'a> {
    /// The listener `run` gets: the host's handle, with the plan's concurrency and `configure`'s configuration.
    pub(super) fn new(handle: &'a HttpListener, concurrency: Concurrency, config: Config) -> Self {
        Listener { handle, concurrency, config }
    }

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
