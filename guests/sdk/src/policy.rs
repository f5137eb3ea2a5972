//! The `authorization-policy` world: grants or denies an exchange.

use crate::bindings::authorization_policy::Guest;
use crate::bindings::types::{WasmError, WasmExchange};
use crate::{Config, Error, Exchange};
use std::marker::PhantomData;

/// The outcome of a policy evaluation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Access is granted.
    Grant,
    /// Access is denied, for the given reason.
    Deny(String),
}

impl Decision {
    /// A [`Decision::Deny`] with the given reason.
    pub fn deny(reason: impl Into<String>) -> Self {
        Decision::Deny(reason.into())
    }

    /// Whether access is granted.
    pub fn is_granted(&self) -> bool {
        matches!(self, Decision::Grant)
    }
}

impl From<Decision> for Option<String> {
    /// The WIT encoding: `none` grants, `some(reason)` denies.
    fn from(decision: Decision) -> Self {
        match decision {
            Decision::Grant => None,
            Decision::Deny(reason) => Some(reason),
        }
    }
}

/// An authorization policy. Export it with [`export_policy!`](crate::export_policy).
///
/// The caller is described by properties the host sets before `evaluate`:
/// `camel.auth.subject`, `camel.auth.roles`, `camel.auth.scopes`, ...
///
/// ```no_run
/// # use camel_wasm_guest::prelude::*;
/// struct SubjectRequired;
/// impl Policy for SubjectRequired {
///     fn evaluate(ex: &Exchange) -> Result<Decision, Error> {
///         Ok(match ex.property_str("camel.auth.subject") {
///             Some(_) => Decision::Grant,
///             None => Decision::deny("no subject"),
///         })
///     }
/// }
/// export_policy!(SubjectRequired);
/// ```
pub trait Policy {
    /// Called once with the endpoint's configuration; an error fails the endpoint.
    fn init(config: Config) -> Result<(), String> {
        let _ = config;
        Ok(())
    }

    /// Decides whether `exchange` may proceed.
    fn evaluate(exchange: &Exchange) -> Result<Decision, Error>;
}

/// Adapts a [`Policy`] to the generated `authorization-policy` world bindings.
#[doc(hidden)]
pub struct PolicyExport<T>(PhantomData<T>);

impl<T: Policy> Guest for PolicyExport<T> {
    fn evaluate(exchange: WasmExchange) -> Result<Option<String>, WasmError> {
        let exchange = Exchange::from(exchange);
        Ok(T::evaluate(&exchange)?.into())
    }

    fn init(config: Vec<(String, String)>) -> Result<(), String> {
        T::init(config.into())
    }
}

/// Exports a [`Policy`] as this component's `authorization-policy` world:
/// `export_policy!(MyPolicy);`
#[macro_export]
macro_rules! export_policy {
    ($policy:ty) => {
        $crate::__export_world!(authorization_policy, PolicyExport, $policy);
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    struct OnlyAlice;

    impl Policy for OnlyAlice {
        fn evaluate(ex: &Exchange) -> Result<Decision, Error> {
            Ok(match ex.property_str("camel.auth.subject") {
                Some("alice") => Decision::Grant,
                _ => Decision::deny("not alice"),
            })
        }
    }

    #[test]
    fn decisions_map_to_the_wit_encoding() {
        assert_eq!(Option::<String>::from(Decision::Grant), None);
        assert_eq!(Option::<String>::from(Decision::deny("no")), Some("no".into()));
        assert!(Decision::Grant.is_granted() && !Decision::deny("no").is_granted());
    }

    #[test]
    fn evaluate_through_the_adapter() {
        let mut ex = Exchange::new("x");
        ex.set_property("camel.auth.subject", "alice");
        let granted = <PolicyExport<OnlyAlice> as Guest>::evaluate(ex.try_clone().unwrap().into());
        assert_eq!(granted.unwrap(), None);
        ex.set_property("camel.auth.subject", "bob");
        let denied = <PolicyExport<OnlyAlice> as Guest>::evaluate(ex.into());
        assert_eq!(denied.unwrap(), Some("not alice".to_string()));
        assert_eq!(OnlyAlice::init(Config::default()), Ok(()));
    }
}
