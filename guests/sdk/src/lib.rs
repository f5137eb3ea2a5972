//! Write camel-wasm guests in a few lines of Rust (tutorial: `guests/sdk/README.md`).
//!
//! A guest is a WebAssembly component for one of the four worlds of the WIT
//! package `camel:plugin@1.0.0`. Implement a trait and export it with one line:
//!
//! | world | trait | export |
//! |---|---|---|
//! | `plugin` | [`Plugin`] | [`export_plugin!`] |
//! | `bean` | [`Bean`] (with [`bean_methods!`]) | [`export_bean!`] |
//! | `authorization-policy` | [`Policy`] | [`export_policy!`] |
//! | `source` | [`Source`] (usually with [`serve`]) | [`export_source!`] |
//! | `language` (`camel:language@1.0.0`) | [`Language`] (with [`entries!`]) | [`export_language!`] |
//!
//! All four work on the same [`Exchange`], whose headers and properties are
//! JSON-aware [`Fields`] and whose [`Body`] has text, bytes and JSON helpers
//! and may be a [`StreamBody`]: read any body chunk by chunk with a
//! [`BodyReader`] ([`Body::into_reader`]), and return a stream produced on the
//! fly with [`Body::stream_from`] (its [`ChunkWriter`] runs after the call
//! returns, so it cannot deadlock).
//! A source accepts HTTP [`Request`]s on its [`Listener`] and [`submit`]s
//! exchanges into the route; [`serve`] runs that loop, sequentially or
//! concurrently as its [`Plan`] says.
//! Guests reach the host through [`call`], [`poll`], [`property`],
//! [`set_property`] and the [`state`] module, and fail with one [`Error`] type.
//!
//! ```no_run
//! use camel_wasm_guest::prelude::*;
//!
//! struct Shout;
//! impl Plugin for Shout {
//!     async fn process(mut ex: Exchange) -> Result<Exchange, Error> {
//!         let text = ex.body().text().unwrap_or_default().to_uppercase();
//!         ex.set_body(text);
//!         Ok(ex)
//!     }
//! }
//! export_plugin!(Shout);
//! ```

#![warn(missing_docs)]

extern crate self as camel_wasm_guest;

mod bean;
pub mod bindings;
mod body;
mod config;
mod error;
mod exchange;
mod fields;
mod host;
pub mod language;
mod plugin;
mod policy;
mod source;
pub mod state;
mod stream;

pub use bean::{Bean, Method, MethodFuture, find_method};
pub use body::Body;
pub use config::Config;
pub use error::Error;
pub use exchange::{Exchange, Message, Pattern};
pub use fields::Fields;
pub use host::{call, poll, property, set_property, yield_now};
pub use language::{Entry, Language, Rule};
pub use plugin::Plugin;
pub use policy::{Decision, Policy};
pub use serde;
pub use serde_json;
pub use source::{
    Concurrency, Listener, METHOD_PROPERTY, PATH_PROPERTY, Plan, REPLY_HEADER, REQUEST_ID_HEADER, RESPONSE_CODE_HEADER, Request,
    Source, Submitted, is_cancelled, serve, submit,
};
pub use stream::{BodyReader, ChunkWriter, DEFAULT_CHUNK_SIZE, StreamBody, drained, pending_writers};

/// The items most guests need: `use camel_wasm_guest::prelude::*;`
pub mod prelude {
    pub use crate::{
        Bean, Body, BodyReader, ChunkWriter, Concurrency, Config, Decision, Entry, Error, Exchange, Language, Listener, Method,
        Plan, Plugin, Policy, Request, Source, StreamBody, Submitted, bean_methods, entries, export_bean, export_language,
        export_plugin, export_policy, export_source, serve, state,
    };
    pub use serde_json::{Value, json};
}

/// Support for the export macros; not public API.
#[doc(hidden)]
pub mod __private {
    pub use crate::bean::BeanExport;
    pub use crate::language::LanguageExport;
    pub use crate::plugin::PluginExport;
    pub use crate::policy::PolicyExport;
    pub use crate::source::export as source;
    pub use wit_bindgen;
}

/// Exports `$adapter<$ty>` as this component's `$world` world.
#[doc(hidden)]
#[macro_export]
macro_rules! __export_world {
    ($world:ident, $adapter:ident, $ty:ty) => {
        const _: () = {
            type CamelWasmGuestExport = $crate::__private::$adapter<$ty>;
            $crate::bindings::$world::export!(
                CamelWasmGuestExport with_types_in $crate::bindings::$world
            );
        };
    };
}
