//! Stream bodies through the mapping and through routes, both ways, within max-stream-bytes.

use std::sync::Arc;

use camel_api::{Body, CamelError, Exchange, Message, StreamBody};
use camel_builder::{RouteBuilder, StepAccumulator};
use camel_component_direct::DirectComponent;
use camel_core::CamelContext;
use camel_wasm::camel::{ExchangeMapping, WasmComponent};
use serde_json::json;

use crate::{harness, runtime};

fn stream_of(len: usize) -> Body {
    chunked_stream(1, len)
}

/// A rust-camel stream body of `count` chunks of `len` bytes `x`.
pub(crate) fn chunked_stream(count: usize, len: usize) -> Body {
    let chunk: Result<bytes::Bytes, CamelError> = Ok(bytes::Bytes::from(vec![b'x'; len]));
    let stream: futures::stream::BoxStream<'static, Result<bytes::Bytes, CamelError>> =
        Box::pin(futures::stream::iter(std::iter::repeat_n(chunk, count)));
    Body::Stream(StreamBody { stream: Arc::new(tokio::sync::Mutex::new(Some(stream))), metadata: Default::default() })
}

#[tokio::test]
async fn a_stream_body_crosses_as_a_stream_unread() {
    let mapping = ExchangeMapping::default();
    let mut camel = stream_of(8);
    if let Body::Stream(s) = &mut camel {
        s.metadata.size_hint = Some(8);
        s.metadata.content_type = Some("text/plain".into());
    }
    let mut exchange = Exchange::new(Message::new(camel));
    let sent = mapping.to_wasm(&mut exchange, Some("r1")).await.unwrap();
    let stream = sent.input.body.as_stream().expect("still a stream");
    assert_eq!((stream.size_hint, stream.content_type.as_deref()), (Some(8), Some("text/plain")));
    assert_eq!(sent.route_id.as_deref(), Some("r1"));
    assert_eq!(stream.read_all(100).await.unwrap(), bytes::Bytes::from_static(b"xxxxxxxx"));
    // Its chunks moved: the camel body's stream was taken, not copied.
    let Body::Stream(left) = &exchange.input.body else { panic!("the body stays a stream") };
    assert!(left.stream.lock().await.is_none());
    // A policy decides without it: the stream stays on the exchange.
    let mut exchange = Exchange::new(Message::new(stream_of(3)));
    let seen = mapping.to_wasm_for_policy(&mut exchange).await.unwrap();
    assert_eq!(seen.input.body, camel_wasm::Body::Empty);
    let Body::Stream(kept) = &exchange.input.body else { panic!("still a stream") };
    assert!(kept.stream.lock().await.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_over_the_uri_max_stream_bytes_fails_the_route() {
    let mut h = harness().await;
    let route =
        RouteBuilder::from("direct:bounded").route_id("bounded").to("wasm:stream-count.wasm?max-stream-bytes=4").build().unwrap();
    h.ctx.add_route_definition(route).await.unwrap();
    h.ctx.start().await.unwrap();
    let small = Exchange::new_in_out(Message::new(stream_of(4)));
    let out = h.send("direct:bounded", small).await.unwrap();
    assert_eq!(out.input.body, Body::Text("4".into()), "streamed through, counted");
    let big = Exchange::new_in_out(Message::new(stream_of(5)));
    let err = h.send("direct:bounded", big).await.unwrap_err().to_string();
    assert!(err.contains("max-stream-bytes (4 bytes)"), "{err}");
    h.ctx.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_flow_through_a_route_both_ways() {
    let mut ctx = CamelContext::builder().build().await.unwrap();
    ctx.register_component(DirectComponent::new());
    let wasm = WasmComponent::builder(runtime()).context(&ctx).stream_limit(1 << 20).build();
    ctx.register_component(wasm.clone());
    // A stream goes into stream-upper, comes back as Body::Stream, and the next step counts it.
    let route = RouteBuilder::from("direct:stream")
        .route_id("stream")
        .to("wasm:stream-upper.wasm")
        .to("wasm:stream-count.wasm")
        .build()
        .unwrap();
    ctx.add_route_definition(route).await.unwrap();
    let passing = RouteBuilder::from("direct:gen").route_id("gen").to("wasm:stream-gen.wasm").build().unwrap();
    ctx.add_route_definition(passing).await.unwrap();
    ctx.start().await.unwrap();

    let endpoints = wasm.camel_endpoints().unwrap();
    let out = endpoints.send("direct:stream", Exchange::new(Message::new(stream_of(300_000)))).await.unwrap();
    assert_eq!(out.input.body, Body::Text("300000".into()), "upper-cased as a stream, counted by the next step");

    let mut gen_exchange = Exchange::new(Message::new(Body::Empty));
    gen_exchange.input.set_header("x-stream-bytes", json!(52));
    let out = endpoints.send("direct:gen", gen_exchange).await.unwrap();
    assert!(matches!(out.input.body, Body::Stream(_)), "the route's result is a stream: {:?}", out.input.body);
    let bytes = out.input.body.into_bytes(1 << 20).await.unwrap();
    assert_eq!(&bytes[..], "abcdefghijklmnopqrstuvwxyz".repeat(2).as_bytes());

    // Over the component's max-stream-bytes: a clear error naming it.
    let err =
        endpoints.send("direct:stream", Exchange::new(Message::new(stream_of((1 << 20) + 1)))).await.unwrap_err().to_string();
    assert!(err.contains("max-stream-bytes (1048576 bytes)"), "{err}");
    ctx.stop().await.unwrap();
}
