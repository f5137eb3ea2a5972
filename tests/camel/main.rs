//! The rust-camel integration in a real camel-core `CamelContext`, with
//! camel-builder and YAML DSL routes, crates.io `direct:` and `mock:`
//! components, and the guests in `guests/dist`.
#![cfg(feature = "rust-camel")]

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use camel_api::{Exchange, Message};
use camel_bean::BeanRegistry;
use camel_component_direct::DirectComponent;
use camel_component_mock::MockComponent;
use camel_core::CamelContext;
use camel_wasm::camel::{CamelWasmError, WasmBean, WasmComponent};
use camel_wasm::{Limits, Runtime};

#[path = "../support/auth.rs"]
mod auth;
#[path = "../support/edge.rs"]
mod edge;
#[path = "../support/python.rs"]
mod python;
#[path = "../support/redis.rs"]
mod redis_server;

mod beans_policies;
mod calls;
mod language;
mod py_guests;
mod routes;
mod sources;
mod state;
mod streams;

fn dist() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("guests/dist")
}

fn runtime() -> Runtime {
    Runtime::builder().base_dir(dist()).build().expect("runtime")
}

/// A CamelContext with direct:, mock:, wasm: and the `text` WASM bean.
struct Harness {
    ctx: CamelContext,
    mock: MockComponent,
    wasm: WasmComponent,
}

async fn harness() -> Harness {
    harness_with(runtime(), "text", "text-utils.wasm", vec![]).await
}

/// A CamelContext with direct:, mock:, wasm: on `runtime` and the WASM bean `file` (its `config`) as `bean`.
async fn harness_with(runtime: Runtime, bean: &str, file: &str, config: Vec<(String, String)>) -> Harness {
    let beans = Arc::new(Mutex::new(BeanRegistry::new()));
    let loaded = WasmBean::load(&runtime, file, Limits::default(), config).await.expect("bean loads");
    beans.lock().unwrap().register(bean, loaded).expect("bean registers");
    let mut ctx = CamelContext::builder().beans(beans).build().await.expect("context");
    ctx.register_component(DirectComponent::new());
    let mock = MockComponent::new();
    ctx.register_component(mock.clone());
    let wasm = WasmComponent::register(&mut ctx, runtime);
    Harness { ctx, mock, wasm }
}

impl Harness {
    async fn send(&self, uri: &str, exchange: Exchange) -> Result<Exchange, CamelWasmError> {
        self.wasm.camel_endpoints().expect("bridged to the context").send(uri, exchange).await
    }

    /// Adds the routes of a YAML DSL document (no security context).
    async fn add_yaml(&mut self, yaml: &str) -> Result<(), camel_api::CamelError> {
        let threshold = camel_api::stream_cache::DEFAULT_STREAM_CACHE_THRESHOLD;
        for route in camel_dsl::parse_yaml_with_threshold_and_security(yaml, threshold, Default::default())? {
            self.ctx.add_route_definition(route).await?;
        }
        Ok(())
    }

    async fn received(&self, mock: &str) -> Vec<Exchange> {
        self.mock.get_endpoint(mock).expect("mock endpoint exists").get_received_exchanges().await
    }
}

fn text_exchange(body: &str) -> Exchange {
    Exchange::new_in_out(Message::new(body))
}
