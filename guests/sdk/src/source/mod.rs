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
//!
//! One job per file: `plan` (what `configure` asks for), `request` (an
//! accepted request and the exchanges made of it), `host` (submit, cancel and
//! the [`Listener`]), `serve` (the loop, over the `Port` seam the unit tests
//! script), `world` (the [`Source`] trait and its export adapter) and
//! `export_macro` ([`export_source!`](crate::export_source), WIT generated).

mod export_macro;
mod host;
mod plan;
mod request;
mod serve;
mod world;

#[cfg(test)]
mod tests;

pub use host::{Listener, Submitted, is_cancelled, submit};
pub use plan::{Concurrency, Plan};
pub use request::Request;
pub use serve::serve;
pub use world::{Source, export};

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
