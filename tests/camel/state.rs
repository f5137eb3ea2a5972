//! Route state shared through Redis by two contexts.

use camel_builder::{RouteBuilder, StepAccumulator};
use serde_json::json;

use crate::{harness, redis_server, text_exchange};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_contexts_share_a_routes_state_through_redis() {
    // Two CamelContexts stand for two host processes behind one broker: the
    // same route on each counts into one Redis counter.
    let redis = redis_server::RedisServer::start();
    let uri = format!("wasm:counter.wasm?state={}&state-namespace=orders&timeout=5", redis.url());
    let mut hosts = Vec::new();
    for _ in 0..2 {
        let mut h = harness().await;
        let route = RouteBuilder::from("direct:in").route_id("count").to(uri.as_str()).build().unwrap();
        h.ctx.add_route_definition(route).await.unwrap();
        h.ctx.start().await.unwrap();
        hosts.push(h);
    }
    for (i, h) in hosts.iter().cycle().take(4).enumerate() {
        let reply = h.send("direct:in", text_exchange("tick")).await.unwrap();
        assert_eq!(reply.input.headers["x-count"], json!(i + 1), "host {} sees every count so far", i % 2);
    }
    assert!(redis.command("GET camel-wasm:{counter.wasm#orders}:count").ends_with("4\r\n"));
}
