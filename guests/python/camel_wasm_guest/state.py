"""State kept by the host for this endpoint, across calls (in memory or in Redis).

`load` and `store` work on every host with the `camel:plugin` worlds.
`increment` is atomic and needs `camel:state/counters@1.0.0` (camel-wasm
hosts): build the guest with `state = true` under `[tool.camel-wasm]`.
"""

from __future__ import annotations

from .errors import ProcessorError, raised


def load(key: str) -> str | None:
    """What `store` kept under `key`, or None."""
    from wit_world.imports import host

    try:
        return host.host_load(key)
    except Exception as e:
        raise raised(e) from None


def store(key: str, value: str) -> None:
    """Keeps `value` under `key` for this endpoint."""
    from wit_world.imports import host

    try:
        host.host_store(key, value)
    except Exception as e:
        raise raised(e) from None


def increment(key: str, delta: int = 1) -> int:
    """Adds `delta` to the integer under `key` (absent counts as 0) atomically; returns the new value."""
    try:
        from wit_world.imports import counters
    except ImportError as e:
        raise ProcessorError(f"state.increment needs the counters import ({e}): set `state = true` "
                             "under [tool.camel-wasm] in pyproject.toml") from None
    try:
        return counters.increment(key, delta)
    except Exception as e:
        raise raised(e) from None
