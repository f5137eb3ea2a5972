//! [`export_source!`](crate::export_source). Its inline WIT is generated from
//! `wit/types.wit` and `wit/source.wit`: edit those, then run
//! `CAMEL_WASM_BLESS=1 bash guests/test-sdk.sh export_source_wit` (the test fails until then).

/// Exports a [`Source`](crate::Source) as this component's `source` world: `export_source!(MySource);`
///
/// Unlike the other worlds' exports, this one generates the `source` world's
/// bindings in the invoking crate (see [`crate::bindings`] for why), from the
/// WIT below, generated from `types.wit` and `source.wit` without comments (a
/// unit test regenerates it from the SDK's `wit/` and fails on any byte that
/// differs); they reuse the SDK's `types` and `source-host` bindings.
#[macro_export]
macro_rules! export_source {
    ($source:ty) => {
        const _: () = {
            #[allow(dead_code, unused_imports, clippy::all)]
            mod camel_wasm_source_world {
                $crate::__private::wit_bindgen::generate!({
                    // No `path`: do not read the invoking crate's `wit/`.
                    path: [],
                    inline: r#"
package camel:plugin@1.0.0;
interface types {
    record stream-body-handle {
        %stream: stream<u8>,
        terminal: future<result<_, wasm-error>>,
        size-hint: option<u64>,
        content-type: option<string>,
        origin: option<string>,
    }
    variant wasm-body {
        empty,
        text(string),
        bytes(list<u8>),
        json(string),
        xml(string),
        %stream(stream-body-handle),
    }
    enum wasm-pattern {
        in-only,
        in-out,
    }
    record wasm-message {
        headers: list<tuple<string, string>>,
        body: wasm-body,
    }
    record wasm-exchange {
        input: wasm-message,
        output: option<wasm-message>,
        properties: list<tuple<string, string>>,
        pattern: wasm-pattern,
        correlation-id: string,
        route-id: option<string>,
        message-id: option<string>,
    }
    variant wasm-error {
        processor-error(string),
        type-conversion(string),
        io(string),
        timeout,
    }
}
interface source-host {
    use types.{wasm-exchange, wasm-error, stream-body-handle};
    resource http-listener;
    record http-request {
        method: string,
        path: string,
        headers: list<tuple<string, string>>,
        body: stream-body-handle,
    }
    record http-listener-spec {
        bind: string,
        path: option<string>,
    }
    variant capability-request {
        http-listener(http-listener-spec),
    }
    variant concurrency-model {
        sequential,
        concurrent(u16),
    }
    record source-plan {
        capabilities: list<capability-request>,
        concurrency: concurrency-model,
    }
    variant submit-outcome {
        accepted,
        stopped,
    }
    accept-http: async func(listener: borrow<http-listener>)
        -> result<option<http-request>, wasm-error>;
    submit-exchange: async func(exchange: wasm-exchange)
        -> result<submit-outcome, wasm-error>;
    is-cancelled: func() -> bool;
}
world source {
    import source-host;
    use types.{wasm-exchange, wasm-error};
    use source-host.{source-plan, http-listener};
    export configure: func(config: list<tuple<string, string>>)
        -> result<source-plan, wasm-error>;
    export run: async func(listener: borrow<http-listener>) -> result<_, wasm-error>;
}
"#,
                    world: "camel:plugin/source",
                    with: {
                        "camel:plugin/types@1.0.0": ::camel_wasm_guest::bindings::types,
                        "camel:plugin/source-host@1.0.0": ::camel_wasm_guest::bindings::source_host,
                    },
                    runtime_path: "::camel_wasm_guest::__private::wit_bindgen::rt",
                });
            }

            struct CamelWasmSourceExport;

            impl camel_wasm_source_world::Guest for CamelWasmSourceExport {
                fn configure(
                    config: ::std::vec::Vec<(::std::string::String, ::std::string::String)>,
                ) -> ::std::result::Result<$crate::bindings::source_host::SourcePlan, $crate::bindings::types::WasmError>
                {
                    $crate::__private::source::configure::<$source>(config)
                }

                async fn run(
                    listener: &$crate::bindings::source_host::HttpListener,
                ) -> ::std::result::Result<(), $crate::bindings::types::WasmError> {
                    $crate::__private::source::run::<$source>(listener).await
                }
            }

            camel_wasm_source_world::export!(
                CamelWasmSourceExport with_types_in camel_wasm_source_world
            );
        };
    };
}
