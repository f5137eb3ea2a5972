//! The `plugin` world: a processor that transforms one exchange.

use crate::bindings::plugin::Guest;
use crate::bindings::types::{WasmError, WasmExchange};
use crate::{Error, Exchange};
use std::marker::PhantomData;

/// A message processor. Export it with [`export_plugin!`](crate::export_plugin).
///
/// ```no_run
/// # use camel_wasm_guest::prelude::*;
/// struct Hello;
/// impl Plugin for Hello {
///     async fn process(mut ex: Exchange) -> Result<Exchange, Error> {
///         ex.set_body("hello");
///         Ok(ex)
///     }
/// }
/// export_plugin!(Hello);
/// ```
#[allow(async_fn_in_trait)]
pub trait Plugin {
    /// Called once after the component is instantiated; an error fails the endpoint.
    fn init() -> Result<(), String> {
        Ok(())
    }

    /// Processes one exchange; the returned exchange replaces it.
    async fn process(exchange: Exchange) -> Result<Exchange, Error>;
}

/// Adapts a [`Plugin`] to the generated `plugin` world bindings.
#[doc(hidden)]
pub struct PluginExport<T>(PhantomData<T>);

impl<T: Plugin> Guest for PluginExport<T> {
    async fn process(exchange: WasmExchange) -> Result<WasmExchange, WasmError> {
        crate::stream::install(crate::stream::Constructors {
            stream: crate::bindings::plugin::wit_stream::new::<u8>,
            terminal: || crate::bindings::plugin::wit_future::new(|| Ok(())),
        });
        let exchange = Exchange::from(exchange);
        Ok(T::process(exchange).await?.into())
    }

    fn init() -> Result<(), String> {
        T::init()
    }
}

/// Exports a [`Plugin`] as this component's `plugin` world: `export_plugin!(MyPlugin);`
#[macro_export]
macro_rules! export_plugin {
    ($plugin:ty) => {
        $crate::__export_world!(plugin, PluginExport, $plugin);
    };
}
