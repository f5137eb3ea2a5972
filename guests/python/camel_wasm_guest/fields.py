"""`Fields`: headers and properties, JSON-aware and lossless on the wire."""

from __future__ import annotations

import json
from collections.abc import Iterator, MutableMapping
from typing import Any

_MISSING = object()


def _decode(wire: str) -> Any:
    """A wire string as a value: its JSON value if it parses, else the string."""
    if not wire:
        return wire
    first = wire[0]
    # Only text that can start JSON is parsed (most header values are plain words).
    if first in '{["-0123456789tfn':
        try:
            return json.loads(wire)
        except ValueError:
            return wire
    return wire


def _encode(value: Any) -> str:
    """A value's wire text: a string raw, anything else as compact JSON."""
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


class Fields(MutableMapping[str, Any]):
    """A dict of headers or properties whose values are JSON values.

    On the wire every value is a string: a string goes out raw, any other value
    as JSON text. Coming in, a wire string that parses as JSON reads as that
    value (`"42"` reads as `42`), otherwise as the string. An entry the guest
    did not change goes back with exactly the text it came in with.
    """

    __slots__ = ("_wire", "_values")

    def __init__(self, wire: list[tuple[str, str]] | None = None) -> None:
        self._wire: dict[str, str] = dict(wire) if wire else {}
        self._values: dict[str, Any] = {}

    def __getitem__(self, key: str) -> Any:
        value = self._values.get(key, _MISSING)
        if value is _MISSING:
            value = _decode(self._wire[key])
            self._values[key] = value
        return value

    def __setitem__(self, key: str, value: Any) -> None:
        self._wire[key] = _encode(value)
        self._values[key] = value

    def __delitem__(self, key: str) -> None:
        del self._wire[key]
        self._values.pop(key, None)

    def __iter__(self) -> Iterator[str]:
        return iter(self._wire)

    def __len__(self) -> int:
        return len(self._wire)

    def __contains__(self, key: object) -> bool:
        return key in self._wire

    def __repr__(self) -> str:
        return f"Fields({dict(self.items())!r})"

    def text(self, key: str, default: str | None = None) -> str | None:
        """The exact wire text under `key` (`"42"`, `"true"`, `'{"a":1}'`), or `default`."""
        return self._wire.get(key, default)

    def to_wire(self) -> list[tuple[str, str]]:
        """The WIT form: every entry, in order, with its wire text."""
        values = self._values
        if values:
            # A value read as a dict or list may have been changed in place.
            for key, value in values.items():
                if isinstance(value, (dict, list)) and key in self._wire:
                    self._wire[key] = _encode(value)
        return list(self._wire.items())
