//! [`Request`]: one HTTP request accepted from the host, and the exchanges made of it.

use super::{METHOD_PROPERTY, PATH_PROPERTY, REPLY_HEADER, REQUEST_ID_HEADER, RESPONSE_CODE_HEADER};
use crate::bindings::source_host::HttpRequest;
use crate::{Body, Error, Exchange, Fields, Pattern};

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
pub(super) fn rejection(id: Option<&str>, status: u16, message: String) -> Exchange {
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
