//! `host-store` / `host-load` latency with the in-memory store and with Redis
//! on loopback (a `redis-server` this bench starts on a free port), measured
//! at the host's state API and through a guest that loads and stores per call.

use std::time::{Duration, Instant};

use camel_wasm::{Exchange, Limits, Plugin, Runtime, StateBackend};

use crate::measure::{Stats, latency};
use crate::redis_server::RedisServer;
use crate::target::Target;

/// Timed operations per row.
const OPS: usize = 20_000;

/// The rows of the state section: `(scenario, stats)`.
pub fn rows(rt: &tokio::runtime::Runtime, dist: &str) -> Vec<(String, Stats)> {
    let redis = RedisServer::start();
    let mut rows = Vec::new();
    for (label, backend) in [("memory", StateBackend::Memory), ("Redis, loopback", redis.url().parse().unwrap())] {
        let runtime = Runtime::builder().base_dir(dist).state(backend).build().unwrap();
        rt.block_on(async {
            let counter = Plugin::load(&runtime, "counter.wasm", Limits::default()).unwrap();
            let state = counter.state().clone();
            let value = "v".repeat(64);
            let deadline = || Instant::now() + Duration::from_secs(5);
            for i in 0..500 {
                state.store(&format!("warm{}", i % 8), &value, deadline()).await.unwrap();
            }
            let mut samples = Vec::with_capacity(OPS);
            for i in 0..OPS {
                let key = format!("k{}", i % 64);
                let started = Instant::now();
                state.store(&key, &value, deadline()).await.unwrap();
                samples.push(started.elapsed());
            }
            rows.push((format!("host-store, 64 B value, {label}"), Stats::of(&mut samples)));
            samples.clear();
            for i in 0..OPS {
                let key = format!("k{}", i % 64);
                let started = Instant::now();
                let loaded = state.load(&key, deadline()).await.unwrap();
                samples.push(started.elapsed());
                assert_eq!(loaded.as_deref(), Some(value.as_str()));
            }
            rows.push((format!("host-load, 64 B value, {label}"), Stats::of(&mut samples)));
            let stats = latency(&Target::Plugin(counter), &Exchange::new("tick"), 200, OPS / 2).await.unwrap();
            rows.push((format!("counter guest call (host-load + host-store), {label}"), stats));
        });
    }
    rows
}
