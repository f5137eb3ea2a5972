"""`Exchange` and `Message`: the exchange a guest sees, as plain Python."""

from __future__ import annotations

from enum import Enum
from typing import Any

from . import body as _body
from .fields import Fields

_UNREAD = object()


class Pattern(Enum):
    """The message exchange pattern."""

    IN_ONLY = 0
    IN_OUT = 1


class Message:
    """One message: dict-like `headers` and a `body` (str, bytes, a JSON value, None or a stream).

    Nothing is converted until it is read: a message the guest does not touch
    goes back to the host exactly as it came.
    """

    __slots__ = ("_wire", "_headers", "_body")

    def __init__(self, body: Any = None, headers: dict[str, Any] | None = None) -> None:
        self._wire: Any = None
        self._headers: Fields | None = Fields()
        self._body: Any = body
        if headers:
            self._headers.update(headers)

    @classmethod
    def _from_wire(cls, wire: Any) -> Message:
        message = cls.__new__(cls)
        message._wire = wire
        message._headers = None
        message._body = _UNREAD
        return message

    @property
    def headers(self) -> Fields:
        """The headers, JSON-aware (see `Fields`)."""
        headers = self._headers
        if headers is None:
            headers = self._headers = Fields(self._wire.headers)
        return headers

    @headers.setter
    def headers(self, value: dict[str, Any]) -> None:
        headers = Fields()
        headers.update(value)
        self._headers = headers

    @property
    def body(self) -> Any:
        """The body: `str` (text), `bytes`, a JSON value (dict, list, ...), `Xml`, `None` (empty) or a `Stream`."""
        body = self._body
        if body is _UNREAD:
            body = self._body = _body.read(self._wire.body)
        return body

    @body.setter
    def body(self, value: Any) -> None:
        self._body = value

    def _to_wire(self) -> Any:
        from wit_world.imports import types

        wire = self._wire
        headers = wire.headers if self._headers is None else self._headers.to_wire()
        body = self._body
        if body is _UNREAD:
            out = wire.body
        elif wire is not None and type(body) in (str, bytes) and body is getattr(wire.body, "value", None):
            out = wire.body  # read, not replaced
        else:
            out = _body.write(body)
        return types.WasmMessage(headers, out)


class Exchange:
    """The exchange in flight. `body` and `headers` are the input message's.

    `properties` is this copy's: what the guest sets there goes back with the
    exchange. (`camel_wasm_guest.property` asks the host directly.)
    """

    __slots__ = ("_wire", "input", "output", "_properties", "pattern", "correlation_id", "route_id", "message_id")

    def __init__(self, body: Any = None, headers: dict[str, Any] | None = None,
                 pattern: Pattern = Pattern.IN_ONLY, correlation_id: str = "") -> None:
        self._wire: Any = None
        self.input = Message(body, headers)
        self.output: Message | None = None
        self._properties: Fields | None = Fields()
        self.pattern = pattern
        self.correlation_id = correlation_id
        self.route_id: str | None = None
        self.message_id: str | None = None

    @classmethod
    def _from_wire(cls, wire: Any) -> Exchange:
        ex = cls.__new__(cls)
        ex._wire = wire
        ex.input = Message._from_wire(wire.input)
        ex.output = None if wire.output is None else Message._from_wire(wire.output)
        ex._properties = None
        ex.pattern = Pattern(wire.pattern.value)
        ex.correlation_id = wire.correlation_id
        ex.route_id = wire.route_id
        ex.message_id = wire.message_id
        return ex

    @property
    def body(self) -> Any:
        """The input body (see `Message.body`)."""
        return self.input.body

    @body.setter
    def body(self, value: Any) -> None:
        self.input.body = value

    @property
    def headers(self) -> Fields:
        """The input headers."""
        return self.input.headers

    @headers.setter
    def headers(self, value: dict[str, Any]) -> None:
        self.input.headers = value

    @property
    def text(self) -> str:
        """The input body as text: a str itself, bytes decoded as UTF-8, a JSON value as JSON text."""
        from .errors import TypeConversionError

        value = self.input.body
        if isinstance(value, str):
            return value
        if value is None:
            return ""
        if isinstance(value, (bytes, bytearray)):
            try:
                return bytes(value).decode()
            except UnicodeDecodeError as e:
                raise TypeConversionError(f"body is not UTF-8: {e}") from None
        if isinstance(value, (_body.Stream, _body.StreamOut)):
            raise TypeConversionError("the body is a stream: read it with `await ex.body.text()`")
        from .fields import _encode

        return _encode(value)

    @property
    def properties(self) -> Fields:
        """This exchange copy's properties, JSON-aware (see `Fields`)."""
        properties = self._properties
        if properties is None:
            properties = self._properties = Fields(self._wire.properties)
        return properties

    def _to_wire(self) -> Any:
        from wit_world.imports import types

        wire = self._wire
        properties = wire.properties if self._properties is None else self._properties.to_wire()
        output = None if self.output is None else self.output._to_wire()
        return types.WasmExchange(
            self.input._to_wire(),
            output,
            properties,
            types.WasmPattern(self.pattern.value),
            self.correlation_id,
            self.route_id,
            self.message_id,
        )
