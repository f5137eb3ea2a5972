"""Errors a guest raises, mapped to the WIT `wasm-error` variants."""

from __future__ import annotations


class CamelError(Exception):
    """A guest failure the host receives as a typed `wasm-error`.

    Raise a subclass; any other exception escaping a guest function becomes a
    `ProcessorError` naming its type and message.
    """

    def __init__(self, message: str = "") -> None:
        super().__init__(message)
        self.message = message


class ProcessorError(CamelError):
    """`wasm-error::processor-error`: the guest could not process the exchange."""


class TypeConversionError(CamelError):
    """`wasm-error::type-conversion`: a value had the wrong type or shape."""


class IoError(CamelError):
    """`wasm-error::io`: reading or writing a body or a host resource failed."""


class Timeout(CamelError):
    """`wasm-error::timeout`: a host call ran out of time."""


def to_wire(error: BaseException):  # -> types.WasmError
    """The `wasm-error` for an exception a guest function raised."""
    from wit_world.imports import types

    if isinstance(error, Timeout):
        return types.WasmError_Timeout()
    if isinstance(error, TypeConversionError):
        return types.WasmError_TypeConversion(error.message)
    if isinstance(error, IoError):
        return types.WasmError_Io(error.message)
    if isinstance(error, CamelError):
        return types.WasmError_ProcessorError(error.message)
    if isinstance(error, (ValueError, TypeError, KeyError)) and not str(error):
        return types.WasmError_ProcessorError(type(error).__name__)
    return types.WasmError_ProcessorError(f"{type(error).__name__}: {error}")


def from_wire(error) -> CamelError:
    """The exception for a `wasm-error` a host import returned."""
    from wit_world.imports import types

    if isinstance(error, types.WasmError_Timeout):
        return Timeout("timeout")
    if isinstance(error, types.WasmError_TypeConversion):
        return TypeConversionError(error.value)
    if isinstance(error, types.WasmError_Io):
        return IoError(error.value)
    return ProcessorError(getattr(error, "value", str(error)))


def raised(err: Exception) -> CamelError:
    """The exception for what a host import raised (`componentize_py_types.Err`)."""
    value = getattr(err, "value", None)
    if value is not None and type(value).__name__.startswith("WasmError_"):
        return from_wire(value)
    if isinstance(value, str):
        return ProcessorError(value)
    return ProcessorError(str(err))
