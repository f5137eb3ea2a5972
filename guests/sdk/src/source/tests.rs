//! Unit tests of the source module; `Mock` is a scripted host behind the `Port` seam.

use super::serve::{Port, serve_on};
use super::*;
use crate::bindings::source_host::{CapabilityRequest, ConcurrencyModel, HttpListenerSpec, SourcePlan};
use crate::bindings::types::WasmExchange;
use crate::{Body, Config, Error, Exchange, Pattern};
use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::Poll;
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

/// The inline WIT of `export_source!`: `wit/types.wit`, then `wit/source.wit`
/// without its `package` line, both without comments and blank lines.
fn source_world_wit(types: &str, source: &str) -> String {
    let strip = |wit: &str| -> Vec<String> {
        wit.lines().filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with("//")).map(str::to_owned).collect()
    };
    let (types, source) = (strip(types), strip(source));
    assert_eq!(source[0], types[0], "one package");
    let lines: Vec<&str> = types.iter().chain(&source[1..]).map(String::as_str).collect();
    format!("\n{}\n", lines.join("\n"))
}

/// `export_macro.rs` with its inline WIT replaced by `wit`.
fn with_inline_wit(file: &str, wit: &str) -> String {
    let (open, close) = ("inline: r#\"", "\"#,");
    let start = file.find(open).expect("export_macro.rs has an inline WIT") + open.len();
    let end = start + file[start..].find(close).unwrap();
    format!("{}{wit}{}", &file[..start], &file[end..])
}

/// Set to regenerate `export_macro.rs`'s inline WIT from `wit/` instead of failing.
const BLESS: &str = "CAMEL_WASM_BLESS";

#[test]
fn export_source_wit_is_generated_from_the_sdk_wit() {
    let file = include_str!("export_macro.rs");
    let wit = source_world_wit(include_str!("../../wit/types.wit"), include_str!("../../wit/source.wit"));
    let expected = with_inline_wit(file, &wit);
    if file == expected {
        return;
    }
    if std::env::var_os(BLESS).is_some() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/src/source/export_macro.rs");
        std::fs::write(path, &expected).unwrap();
        return;
    }
    panic!(
        "export_source!'s inline WIT is not generated from wit/types.wit + wit/source.wit: \
         regenerate it with `{BLESS}=1 bash guests/test-sdk.sh export_source_wit`"
    );
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
