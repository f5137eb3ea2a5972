//! [`Plan`]: what a source asks the host for in `configure`, and its [`Concurrency`].

use crate::Config;
use crate::Error;
use crate::bindings::source_host::{CapabilityRequest, ConcurrencyModel, HttpListenerSpec, SourcePlan};

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
