//! The host-side bindings of the shared interfaces (`types`, `host`, `source-host`,
//! `counters`), generated once from `wit/`; each world's bindings reuse them through `with:`.

wasmtime::component::bindgen!({
    path: "wit",
    world: "host-imports",
    inline: "
        package camel:host-imports;
        world host-imports {
            import camel:plugin/host@1.0.0;
            import camel:plugin/source-host@1.0.0;
            import camel:state/counters@1.0.0;
        }
    ",
    // A set-property over the endpoint's bounds stops the guest at once.
    // host-store / host-load stay synchronous to the guest; the host side
    // is async (a Redis round trip suspends the guest, not the thread).
    imports: {
        "camel:plugin/host.set-property": trappable,
        "camel:plugin/host.host-store": async,
        "camel:plugin/host.host-load": async,
        "camel:state/counters.increment": async,
    },
    with: { "camel:plugin/source-host.http-listener": crate::bindings::ListenerHandle },
});

pub use camel::plugin::{host, source_host, types};
pub use camel::state::counters;
pub use types::{StreamBodyHandle, WasmBody, WasmError, WasmExchange, WasmMessage, WasmPattern};

/// The host's side of the guest's `http-listener` handle: a marker, the listener itself is the host's.
pub struct ListenerHandle;
