//! The [`Source`] trait and the adapter [`export_source!`](crate::export_source) calls.

use super::{Concurrency, Listener, Plan};
use crate::bindings::source_host::{HttpListener, SourcePlan};
use crate::bindings::types::WasmError;
use crate::{Config, Error};
use std::cell::RefCell;

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
    /// requests and submit exchanges (usually with [`serve`](super::serve)); return `Ok(())`
    /// when [`Listener::accept`] returns `None` or [`submit`](super::submit) returns
    /// [`Submitted::Stopped`](super::Submitted::Stopped). After it returns, the adapter waits for every
    /// stream body made with [`Body::stream_from`](crate::Body::stream_from) to be drained
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
        let listener = Listener::new(listener, concurrency, config);
        let result = T::run(listener).await;
        crate::stream::drained().await;
        Ok(result?)
    }
}
