//! The one error type of the SDK, mirroring the WIT `wasm-error`.

use crate::bindings::types::WasmError;
use std::fmt;

/// An error a guest returns to the host, or a host function returned to the guest.
///
/// It maps one to one onto the WIT `wasm-error` variant, so an error from a host
/// function passes through `?` unchanged. `serde_json` errors convert to
/// [`Error::TypeConversion`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Error {
    /// The processing failed (`processor-error`).
    Processor(String),
    /// A value could not be converted to the type asked for (`type-conversion`).
    TypeConversion(String),
    /// An I/O error (`io`).
    Io(String),
    /// An operation timed out (`timeout`).
    Timeout,
}

impl Error {
    /// A [`Error::Processor`] error with the given message.
    pub fn processor(message: impl Into<String>) -> Self {
        Error::Processor(message.into())
    }

    /// A [`Error::TypeConversion`] error with the given message.
    pub fn type_conversion(message: impl Into<String>) -> Self {
        Error::TypeConversion(message.into())
    }

    /// An [`Error::Io`] error with the given message.
    pub fn io(message: impl Into<String>) -> Self {
        Error::Io(message.into())
    }

    /// The message, if the variant has one.
    pub fn message(&self) -> Option<&str> {
        match self {
            Error::Processor(m) | Error::TypeConversion(m) | Error::Io(m) => Some(m),
            Error::Timeout => None,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Processor(m) => write!(f, "processor error: {m}"),
            Error::TypeConversion(m) => write!(f, "type conversion error: {m}"),
            Error::Io(m) => write!(f, "I/O error: {m}"),
            Error::Timeout => f.write_str("timeout"),
        }
    }
}

impl std::error::Error for Error {}

impl From<serde_json::Error> for Error {
    fn from(e: serde_json::Error) -> Self {
        Error::TypeConversion(e.to_string())
    }
}

impl From<WasmError> for Error {
    fn from(e: WasmError) -> Self {
        match e {
            WasmError::ProcessorError(m) => Error::Processor(m),
            WasmError::TypeConversion(m) => Error::TypeConversion(m),
            WasmError::Io(m) => Error::Io(m),
            WasmError::Timeout => Error::Timeout,
        }
    }
}

impl From<Error> for WasmError {
    fn from(e: Error) -> Self {
        match e {
            Error::Processor(m) => WasmError::ProcessorError(m),
            Error::TypeConversion(m) => WasmError::TypeConversion(m),
            Error::Io(m) => WasmError::Io(m),
            Error::Timeout => WasmError::Timeout,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_every_wasm_error_variant() {
        let all = [
            WasmError::ProcessorError("p".into()),
            WasmError::TypeConversion("t".into()),
            WasmError::Io("i".into()),
            WasmError::Timeout,
        ];
        for e in all {
            let text = format!("{e:?}");
            assert_eq!(format!("{:?}", WasmError::from(Error::from(e))), text);
        }
    }

    #[test]
    fn serde_errors_are_type_conversions() {
        let e: Error = serde_json::from_str::<u8>("x").unwrap_err().into();
        assert!(matches!(e, Error::TypeConversion(_)), "{e:?}");
    }

    #[test]
    fn constructors_and_display() {
        assert_eq!(Error::processor("boom"), Error::Processor("boom".into()));
        assert_eq!(Error::processor("boom").to_string(), "processor error: boom");
        assert_eq!(Error::Timeout.message(), None);
        assert_eq!(Error::io("disk").message(), Some("disk"));
    }
}
