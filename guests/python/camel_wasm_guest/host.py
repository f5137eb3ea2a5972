"""What the host gives every guest: endpoint calls and the exchange's properties on the host."""

from __future__ import annotations

from .errors import raised


async def call(uri: str, payload: str) -> str:
    """Sends `payload` as a text body to endpoint `uri` and returns the reply body as text."""
    from wit_world.imports import host

    try:
        return await host.camel_call(uri, payload)
    except Exception as e:
        raise raised(e) from None


async def poll(uri: str, timeout_ms: int) -> str:
    """Receives one message from endpoint `uri`, waiting at most `timeout_ms`."""
    from wit_world.imports import host

    try:
        return await host.camel_poll(uri, timeout_ms)
    except Exception as e:
        raise raised(e) from None


def property(key: str) -> str | None:
    """A property of the exchange being processed, read from the host."""
    from wit_world.imports import host

    return host.get_property(key)


def set_property(key: str, value: str) -> None:
    """Sets a property of the exchange being processed, on the host."""
    from wit_world.imports import host

    host.set_property(key, value)
