//! The Redis [`StateStore`]: state shared by every host process on one Redis,
//! surviving restarts. Keys are `camel-wasm:{<endpoint>}:<key>`; the braces are
//! a Redis Cluster hash tag, so an endpoint's keys and its index share a slot.
//! The entry bound is enforced atomically by a Lua script over a per-endpoint
//! index (a sorted set scored by expiry), so concurrent hosts cannot overshoot it.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant};

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{RedisResult, Script};
use tokio::sync::OnceCell;

use super::{StateError, StateScope, StateStore, remaining};

/// How long connecting may take before a call sees `wasm-error::io`.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// How long one command may wait for its reply (the call's deadline may end it sooner).
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(2);

/// Lua shared by the scripts: the endpoint's index is a sorted set of its keys,
/// each scored by the millisecond it expires at (`+inf`: never).
const PRELUDE: &str = r"
    -- Drops expired keys from `index`; returns Redis's clock in ms.
    local function purge(index)
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        redis.call('ZREMRANGEBYSCORE', index, '-inf', now)
        return now
    end
    -- Whether `member` may be written: it is held already, or there is room for one more.
    local function admits(index, member, max)
        return redis.call('ZSCORE', index, member) or redis.call('ZCARD', index) < tonumber(max)
    end
    -- Records `member` in `index`, expiring `ttl` ms after `now` (0: never).
    local function index_until(index, member, ttl, now)
        if ttl > 0 then
            redis.call('ZADD', index, now + ttl, member)
        else
            redis.call('ZADD', index, '+inf', member)
        end
    end
";

/// A script of [`PRELUDE`] followed by `body`.
fn script(body: &str) -> Script {
    Script::new(&format!("{PRELUDE}{body}"))
}

/// Stores a value if the endpoint's live keys stay within the bound; returns 1, or 0 when full.
/// KEYS: data key, index. ARGV: key, value, max entries, ttl in ms (0: none).
static STORE: LazyLock<Script> = LazyLock::new(|| {
    script(
        r"
        local now = purge(KEYS[2])
        if not admits(KEYS[2], ARGV[1], ARGV[3]) then return 0 end
        local ttl = tonumber(ARGV[4])
        if ttl > 0 then
            redis.call('SET', KEYS[1], ARGV[2], 'PX', ttl)
        else
            redis.call('SET', KEYS[1], ARGV[2])
        end
        index_until(KEYS[2], ARGV[1], ttl, now)
        return 1
        ",
    )
});

/// Adds to an integer within the entry bound, atomically. Returns {1, new value as text},
/// {0, ''} when full, or {2, the reason} when the value is not an integer (or not a string) or would overflow.
/// KEYS: data key, index. ARGV: key, delta, max entries, ttl in ms (0: none).
static INCREMENT: LazyLock<Script> = LazyLock::new(|| {
    script(
        r"
        local now = purge(KEYS[2])
        if not admits(KEYS[2], ARGV[1], ARGV[3]) then return {0, ''} end
        local kind = redis.call('TYPE', KEYS[1]).ok
        if kind ~= 'none' and kind ~= 'string' then return {2, 'is a ' .. kind .. ', not an integer'} end
        local done = redis.pcall('INCRBY', KEYS[1], ARGV[2])
        if type(done) == 'table' and done.err then
            if string.find(done.err, 'not an integer') then return {2, 'is not an integer'} end
            if string.find(done.err, 'overflow') then
                return {2, redis.call('GET', KEYS[1]) .. ' plus ' .. ARGV[2] .. ' overflows'}
            end
            return {2, done.err}
        end
        local ttl = tonumber(ARGV[4])
        if ttl > 0 then
            redis.call('PEXPIRE', KEYS[1], ttl)
        else
            redis.call('PERSIST', KEYS[1])
        end
        index_until(KEYS[2], ARGV[1], ttl, now)
        return {1, redis.call('GET', KEYS[1])}
        ",
    )
});

/// A value, its type and length checked in Redis so that one over the bound never
/// crosses the wire. Returns {1, value}, {0, ''} when absent, {2, length} when over
/// the bound, or {3, type} when not a string. KEYS: data key. ARGV: max value bytes.
static LOAD: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
        local kind = redis.call('TYPE', KEYS[1]).ok
        if kind == 'none' then return {0, ''} end
        if kind ~= 'string' then return {3, kind} end
        local len = redis.call('STRLEN', KEYS[1])
        if len > tonumber(ARGV[1]) then return {2, tostring(len)} end
        return {1, redis.call('GET', KEYS[1])}
        ",
    )
});

/// The endpoint's live key count. KEYS: index.
static LEN: LazyLock<Script> = LazyLock::new(|| {
    script(
        r"
        purge(KEYS[1])
        return redis.call('ZCARD', KEYS[1])
        ",
    )
});

/// Connections a runtime opens to one Redis URL, at most.
const LANES: usize = 16;

/// `url` with the password of its user info replaced by `***`.
pub(crate) fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_string() };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => {
            let user = rest[..at].split_once(':').map_or(&rest[..at], |(user, _)| user);
            let hidden = if rest[..at].contains(':') { format!("{user}:***") } else { user.to_string() };
            format!("{scheme}://{hidden}{}", &rest[at..])
        }
        None => url.to_string(),
    }
}

/// One Redis server, shared by every endpoint of a runtime that uses its URL.
/// Endpoints take its lanes in turn, each lane a connection made on first use and
/// remade after a failure by the `redis` crate's connection manager.
pub(crate) struct RedisConnection {
    url: String,
    shown: String,
    /// A multiplexed connection answers in order, so an endpoint on a lane of its own
    /// never waits behind another's transfer; past [`LANES`] endpoints, lanes are shared.
    lanes: [OnceCell<ConnectionManager>; LANES],
    /// The lane the next endpoint takes (modulo [`LANES`]).
    next: AtomicUsize,
}

impl std::fmt::Debug for RedisConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisConnection").field("url", &self.shown).finish_non_exhaustive()
    }
}

impl RedisConnection {
    /// A connection to `url` (already checked by [`StateBackend`](super::StateBackend)'s parser), not yet made.
    pub(crate) fn new(url: &str) -> Self {
        let lanes = std::array::from_fn(|_| OnceCell::new());
        Self { url: url.to_string(), shown: redact(url), lanes, next: AtomicUsize::new(0) }
    }

    /// The lane for a new endpoint: each of the first [`LANES`] gets its own.
    fn take_lane(&self) -> usize {
        self.next.fetch_add(1, Ordering::Relaxed) % LANES
    }

    /// The manager of `lane`, created on first use (it connects lazily, and again after failures).
    async fn manager(&self, lane: usize) -> RedisResult<ConnectionManager> {
        let manager = self.lanes[lane]
            .get_or_try_init(|| async {
                let client = redis::Client::open(self.url.as_str())?;
                let config = ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(CONNECT_TIMEOUT))
                    .set_response_timeout(Some(RESPONSE_TIMEOUT))
                    .set_number_of_retries(1)
                    .set_min_delay(Duration::from_millis(50))
                    .set_max_delay(Duration::from_millis(500));
                ConnectionManager::new_lazy_with_config(client, config)
            })
            .await?;
        Ok(manager.clone())
    }
}

/// One endpoint's state in Redis.
#[derive(Debug)]
pub struct RedisStore {
    connection: Arc<RedisConnection>,
    /// Which of the connection's lanes this endpoint's operations use.
    lane: usize,
    scope: StateScope,
    /// `camel-wasm:{<endpoint>}:`, to which each key is appended.
    prefix: String,
    /// `camel-wasm:{<endpoint>}#keys`: the endpoint's keys, scored by expiry (ms) or `+inf`.
    index: String,
    /// `camel_wasm_state_errors_total{plugin, store}`: operations that failed or timed out.
    failures: ::metrics::Counter,
}

impl RedisStore {
    /// The store of `scope`'s endpoint on `connection`.
    pub(crate) fn with_connection(connection: Arc<RedisConnection>, scope: StateScope) -> Self {
        let prefix = format!("camel-wasm:{{{}}}:", scope.endpoint);
        let index = format!("camel-wasm:{{{}}}#keys", scope.endpoint);
        let labels = [("plugin", scope.endpoint.clone()), ("store", connection.shown.clone())];
        let failures = ::metrics::counter!("camel_wasm_state_errors_total", &labels);
        let lane = connection.take_lane();
        Self { connection, lane, scope, prefix, index, failures }
    }

    /// The Redis key holding `key`'s value.
    pub fn redis_key(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }

    /// Runs one Redis operation (idempotent: it may run twice), ending it by
    /// `deadline` with a typed error naming the store. A connection error is
    /// retried once, on the connection the manager remade meanwhile, so the
    /// first call after Redis comes back succeeds.
    async fn run<T, F>(&self, deadline: Instant, op: impl Fn(ConnectionManager) -> F) -> Result<T, StateError>
    where
        F: Future<Output = RedisResult<T>>,
    {
        let budget = remaining(deadline);
        let work = async {
            let manager = self.connection.manager(self.lane).await?;
            match op(manager.clone()).await {
                Err(e) if e.is_io_error() || e.is_connection_dropped() || e.is_connection_refusal() => op(manager).await,
                done => done,
            }
        };
        let outcome = tokio::time::timeout(budget, work).await;
        if !matches!(outcome, Ok(Ok(_))) {
            self.failures.increment(1);
        }
        match outcome {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(error)) => Err(self.unavailable(error.to_string())),
            Err(_elapsed) => Err(StateError::Timeout {
                store: self.connection.shown.clone(),
                endpoint: self.scope.endpoint.clone(),
                after: budget,
            }),
        }
    }

    /// `state-ttl` in milliseconds, 0 for none.
    fn ttl_ms(&self) -> u64 {
        self.scope.ttl.map_or(0, |ttl| u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1))
    }

    fn unavailable(&self, reason: String) -> StateError {
        StateError::Unavailable { store: self.connection.shown.clone(), endpoint: self.scope.endpoint.clone(), reason }
    }
}

#[async_trait::async_trait]
impl StateStore for RedisStore {
    async fn store(&self, key: &str, value: &str, deadline: Instant) -> Result<(), StateError> {
        self.scope.bounds.check(key, value)?;
        let ttl_ms = self.ttl_ms();
        let max = self.scope.bounds.max_entries;
        let data = self.redis_key(key);
        let stored: i64 = self
            .run(deadline, async |mut conn| {
                STORE.key(&data).key(&self.index).arg(key).arg(value).arg(max).arg(ttl_ms).invoke_async(&mut conn).await
            })
            .await?;
        if stored == 0 {
            return Err(StateError::Full { key: key.to_string(), max });
        }
        Ok(())
    }

    async fn load(&self, key: &str, deadline: Instant) -> Result<Option<String>, StateError> {
        if key.len() > self.scope.bounds.max_key_bytes {
            return Ok(None);
        }
        let data = self.redis_key(key);
        // What something else than a guest wrote is held to the same bounds, in Redis, before the guest sees it.
        let max = self.scope.bounds.max_value_bytes;
        let (code, bytes): (i64, Vec<u8>) =
            self.run(deadline, async |mut conn| LOAD.key(&data).arg(max).invoke_async(&mut conn).await).await?;
        let text = || String::from_utf8_lossy(&bytes);
        match code {
            0 => Ok(None),
            1 => String::from_utf8(bytes).map(Some).map_err(|_| self.unavailable(format!("value of '{data}' is not UTF-8"))),
            2 => match text().parse() {
                Ok(len) => Err(StateError::ValueTooLong { key: key.to_string(), len, max }),
                Err(_) => Err(self.unavailable(format!("the length check of '{data}' answered '{}'", text()))),
            },
            _ => Err(self.unavailable(format!("'{key}' holds a {}, not a string", text()))),
        }
    }

    async fn increment(&self, key: &str, delta: i64, deadline: Instant) -> Result<i64, StateError> {
        self.scope.bounds.check(key, "")?;
        let max = self.scope.bounds.max_entries;
        let data = self.redis_key(key);
        let (code, text): (i64, String) = self
            .run(deadline, async |mut conn| {
                INCREMENT
                    .key(&data)
                    .key(&self.index)
                    .arg(key)
                    .arg(delta)
                    .arg(max)
                    .arg(self.ttl_ms())
                    .invoke_async(&mut conn)
                    .await
            })
            .await?;
        match code {
            0 => Err(StateError::Full { key: key.to_string(), max }),
            1 => text.parse().map_err(|_| self.unavailable(format!("INCRBY left '{text}' under '{data}'"))),
            _ => Err(StateError::NotAnInteger { key: key.to_string(), reason: text.trim_start_matches("ERR ").to_string() }),
        }
    }

    async fn len(&self, deadline: Instant) -> Result<usize, StateError> {
        let count: usize = self.run(deadline, async |mut conn| LEN.key(&self.index).invoke_async(&mut conn).await).await?;
        Ok(count)
    }

    fn location(&self) -> &str {
        &self.connection.shown
    }

    fn endpoint(&self) -> &str {
        &self.scope.endpoint
    }
}
