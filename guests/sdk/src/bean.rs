//! The `bean` world: a component with named methods.

use crate::bindings::bean::Guest;
use crate::bindings::types::{WasmError, WasmExchange};
use crate::{Config, Error, Exchange};
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;

/// The future a bean method returns.
pub type MethodFuture = Pin<Box<dyn Future<Output = Result<Exchange, Error>>>>;

/// One named bean method; build the list with [`bean_methods!`](crate::bean_methods).
pub struct Method {
    name: &'static str,
    call: fn(Exchange) -> MethodFuture,
}

impl Method {
    /// A method called `name` that runs `call`.
    pub const fn new(name: &'static str, call: fn(Exchange) -> MethodFuture) -> Self {
        Method { name, call }
    }

    /// The method's name.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// Runs the method on `exchange`.
    pub fn call(&self, exchange: Exchange) -> MethodFuture {
        (self.call)(exchange)
    }
}

/// A bean: named methods on exchanges. Export it with [`export_bean!`](crate::export_bean).
///
/// The one [`Bean::METHODS`] table drives both the exported `methods` list and
/// the dispatch of `invoke`, so they cannot drift apart.
///
/// ```no_run
/// # use camel_wasm_guest::prelude::*;
/// struct Greeter;
/// impl Greeter {
///     async fn hello(mut ex: Exchange) -> Result<Exchange, Error> {
///         ex.set_body("hello");
///         Ok(ex)
///     }
/// }
/// impl Bean for Greeter {
///     const METHODS: &'static [Method] = bean_methods! { "hello" => Self::hello };
/// }
/// export_bean!(Greeter);
/// ```
pub trait Bean {
    /// The methods, by name.
    const METHODS: &'static [Method];

    /// Called once with the endpoint's configuration; an error fails the endpoint.
    fn init(config: Config) -> Result<(), String> {
        let _ = config;
        Ok(())
    }
}

/// Finds `B`'s method called `name`; an unknown name is the processor error
/// `unknown method 'NAME'`.
pub fn find_method<B: Bean>(name: &str) -> Result<&'static Method, Error> {
    B::METHODS.iter().find(|m| m.name == name).ok_or_else(|| Error::processor(format!("unknown method '{name}'")))
}

/// Adapts a [`Bean`] to the generated `bean` world bindings.
#[doc(hidden)]
pub struct BeanExport<T>(PhantomData<T>);

impl<T: Bean> Guest for BeanExport<T> {
    async fn invoke(method: String, exchange: WasmExchange) -> Result<WasmExchange, WasmError> {
        crate::stream::install(crate::stream::Constructors {
            stream: crate::bindings::bean::wit_stream::new::<u8>,
            terminal: || crate::bindings::bean::wit_future::new(|| Ok(())),
        });
        let method = find_method::<T>(&method)?;
        let exchange = Exchange::from(exchange);
        Ok(method.call(exchange).await?.into())
    }

    fn methods() -> Vec<String> {
        T::METHODS.iter().map(|m| m.name.to_owned()).collect()
    }

    fn init(config: Vec<(String, String)>) -> Result<(), String> {
        T::init(config.into())
    }
}

/// Builds a [`Bean::METHODS`] table from `"name" => async_fn` pairs, where each
/// function is `async fn(Exchange) -> Result<Exchange, Error>`.
#[macro_export]
macro_rules! bean_methods {
    ($($name:literal => $method:path),* $(,)?) => {
        &[$($crate::Method::new($name, |exchange| ::std::boxed::Box::pin($method(exchange)))),*]
    };
}

/// Exports a [`Bean`] as this component's `bean` world: `export_bean!(MyBean);`
#[macro_export]
macro_rules! export_bean {
    ($bean:ty) => {
        $crate::__export_world!(bean, BeanExport, $bean);
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Body;
    use std::task::{Context, Poll, Waker};

    struct Echo;

    impl Echo {
        async fn shout(mut ex: Exchange) -> Result<Exchange, Error> {
            let text = ex.body().text().unwrap_or_default().to_uppercase();
            ex.set_body(text);
            Ok(ex)
        }

        async fn fail(_: Exchange) -> Result<Exchange, Error> {
            Err(Error::processor("failed"))
        }
    }

    impl Bean for Echo {
        const METHODS: &'static [Method] = bean_methods! {
            "shout" => Self::shout,
            "fail" => Echo::fail,
        };
    }

    /// Polls a future that completes without waiting.
    fn ready<F: Future>(f: F) -> F::Output {
        let mut f = std::pin::pin!(f);
        match f.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
            Poll::Ready(v) => v,
            Poll::Pending => panic!("future is pending"),
        }
    }

    #[test]
    fn methods_and_dispatch_share_one_table() {
        let names: Vec<_> = <BeanExport<Echo> as Guest>::methods();
        assert_eq!(names, ["shout", "fail"]);
        let out = ready(find_method::<Echo>("shout").unwrap().call(Exchange::new("hi"))).unwrap();
        assert_eq!(out.body(), &Body::Text("HI".into()));
        let err = ready(find_method::<Echo>("fail").unwrap().call(Exchange::new("hi"))).unwrap_err();
        assert_eq!(err, Error::processor("failed"));
    }

    #[test]
    fn unknown_method_is_a_processor_error() {
        let err = find_method::<Echo>("nope").err().unwrap();
        assert_eq!(err, Error::processor("unknown method 'nope'"));
    }

    #[test]
    fn init_defaults_to_ok() {
        assert_eq!(Echo::init(Config::default()), Ok(()));
    }
}
