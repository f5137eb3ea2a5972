//! The wit-bindgen bindings, generated once for the shared `types`, `host`
//! and `source-host` interfaces and reused (through `with`) by the four
//! worlds, so one [`Exchange`](crate::Exchange) works for plugins, beans,
//! policies and sources.
//!
//! Each world is generated with `pub_export_macro`: the custom section linked
//! into every guest describes imports only; a world's exports are described by
//! the section its `export!` macro emits in the guest that invokes it.
//! Interface imports a guest does not call are dropped from its component, but
//! the types a world `use`s at world level are not: that is why the `source`
//! world is not generated here (its `use source-host.{source-plan,
//! http-listener}` would make every plugin, bean and policy import
//! `source-host`). [`export_source!`](crate::export_source) generates it in
//! the guest crate instead, from a copy of its WIT reusing [`types`] and
//! [`source_host`].
// Generated code: its documentation is the WIT's.
#![allow(missing_docs)]

/// The shared interfaces, `camel:plugin/types`, `camel:plugin/host` and
/// `camel:plugin/source-host`, and `camel:state/counters` (imported only by a
/// guest that calls [`state::increment`](crate::state::increment)).
pub(crate) mod shared {
    wit_bindgen::generate!({
        inline: "
            package camel:guest-sdk;
            world shared {
                import camel:plugin/types@1.0.0;
                import camel:plugin/host@1.0.0;
                import camel:plugin/source-host@1.0.0;
                import camel:state/counters@1.0.0;
            }
        ",
        path: "wit",
        world: "camel:guest-sdk/shared",
        runtime_path: "::camel_wasm_guest::__private::wit_bindgen::rt",
        generate_all,
    });
}

pub use shared::camel::plugin::{host, source_host, types};
pub use shared::camel::state::counters;

/// Generates the bindings of one world of `camel:plugin`, reusing [`types`] and [`host`].
macro_rules! world {
    ($module:ident, $world:literal, $path:literal) => {
        #[doc = concat!("The `", $world, "` world's exports.")]
        pub mod $module {
            wit_bindgen::generate!({
                path: "wit",
                world: $world,
                with: {
                    "camel:plugin/types@1.0.0": ::camel_wasm_guest::bindings::types,
                    "camel:plugin/host@1.0.0": ::camel_wasm_guest::bindings::host,
                },
                runtime_path: "::camel_wasm_guest::__private::wit_bindgen::rt",
                pub_export_macro: true,
                default_bindings_module: $path,
            });
        }
    };
}

world!(plugin, "camel:plugin/plugin", "::camel_wasm_guest::bindings::plugin");
world!(bean, "camel:plugin/bean", "::camel_wasm_guest::bindings::bean");
world!(authorization_policy, "camel:plugin/authorization-policy", "::camel_wasm_guest::bindings::authorization_policy");
world!(language, "camel:language/language", "::camel_wasm_guest::bindings::language");
