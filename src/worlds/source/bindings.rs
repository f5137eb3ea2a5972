//! The `source` world's exports, reusing the shared `types` and `source-host` bindings.

mod generated {
    wasmtime::component::bindgen!({
        path: "wit",
        world: "source",
        exports: { default: async },
        with: {
            "camel:plugin/types": crate::bindings::types,
            "camel:plugin/source-host": crate::bindings::source_host,
        },
    });
}

pub(crate) use generated::Source as Bindings;
pub(crate) use generated::camel::plugin::source_host::{CapabilityRequest, ConcurrencyModel, SourcePlan};

/// The pre-instantiated `source` world.
pub(crate) type Pre = generated::SourcePre<crate::store::StoreState>;
