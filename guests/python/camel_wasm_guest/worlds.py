"""The decorators that make a module a component of one world.

Each puts the `WitWorld` class componentize-py looks for into the module of
the function it decorates, so the guest module holds only plain functions.
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from .errors import ProcessorError, to_wire
from .exchange import Exchange

F = TypeVar("F", bound=Callable[..., Any])
Config = dict[str, str]

_init: list[Callable[[Config], None]] = []


def init(fn: Callable[[Config], None]) -> Callable[[Config], None]:
    """Runs `fn(config)` once per instance before any call; raising fails the load with its message.

    The plugin world's `init` has no configuration: `config` is then `{}`.
    """
    _init[:] = [fn]
    return fn


def _run_init(config: list[tuple[str, str]]) -> None:
    from componentize_py_types import Err

    if not _init:
        return
    try:
        _init[0](dict(config))
    except Exception as e:
        raise Err(str(e) or type(e).__name__) from None


def _export(module: str, world_class: type) -> None:
    """Makes `world_class` the `WitWorld` of `module`."""
    import wit_world

    setattr(sys.modules[module], "WitWorld", type("WitWorld", (world_class, wit_world.WitWorld), {}))


def _fail(error: BaseException) -> Exception:
    from componentize_py_types import Err

    return Err(to_wire(error))


def plugin(process: Callable[[Exchange], Awaitable[Exchange | None]]) -> Callable[[Exchange], Awaitable[Exchange | None]]:
    """Exports `async def process(ex) -> Exchange` as the `plugin` world's `process`.

    Returning None returns `ex` itself, changed in place.
    """

    class Plugin:
        async def process(self, exchange: Any) -> Any:
            ex = Exchange._from_wire(exchange)
            try:
                out = await process(ex)
                return (ex if out is None else out)._to_wire()
            except Exception as e:
                raise _fail(e) from None

        def init(self) -> None:
            _run_init([])

    _export(process.__module__, Plugin)
    return process


def policy(evaluate: Callable[[Exchange], str | None]) -> Callable[[Exchange], str | None]:
    """Exports `def check(ex) -> str | None` as the `authorization-policy` world's `evaluate`.

    Return None (or `allow()`) to grant, a reason (or `deny(reason)`) to deny.
    """

    class Policy:
        def evaluate(self, exchange: Any) -> str | None:
            try:
                decision = evaluate(Exchange._from_wire(exchange))
            except Exception as e:
                raise _fail(e) from None
            if decision is None or decision is True:
                return None
            if decision is False:
                return "denied"
            return str(decision)

        def init(self, config: list[tuple[str, str]]) -> None:
            _run_init(config)

    _export(evaluate.__module__, Policy)
    return evaluate


def allow() -> None:
    """A policy's grant."""
    return None


def deny(reason: str) -> str:
    """A policy's denial, with the reason the route sees."""
    return reason


class Bean:
    """A bean: named async methods over one exchange.

    ```python
    text = Bean()

    @text.method
    async def upper(ex: Exchange) -> Exchange: ...
    ```
    """

    def __init__(self) -> None:
        self.methods: dict[str, Callable[[Exchange], Awaitable[Exchange | None]]] = {}
        self._module: str | None = None

    def method(self, fn: F | str) -> Any:
        """Registers an async method under its name, or `@bean.method("other-name")`."""
        if isinstance(fn, str):
            name = fn
            return lambda f: self._add(name, f)
        return self._add(fn.__name__.replace("_", "-"), fn)

    def _add(self, name: str, fn: F) -> F:
        if name in self.methods:
            raise ValueError(f"bean method '{name}' is defined twice")
        self.methods[name] = fn
        if self._module is None:
            self._module = fn.__module__
            _export(fn.__module__, self._world())
        return fn

    def _world(self) -> type:
        table = self.methods

        class BeanWorld:
            async def invoke(self, method: str, exchange: Any) -> Any:
                fn = table.get(method)
                try:
                    if fn is None:
                        raise ProcessorError(f"unknown method '{method}' (methods: {', '.join(table)})")
                    ex = Exchange._from_wire(exchange)
                    out = await fn(ex)
                    return (ex if out is None else out)._to_wire()
                except Exception as e:
                    raise _fail(e) from None

            def methods(self) -> list[str]:
                return list(table)

            def init(self, config: list[tuple[str, str]]) -> None:
                _run_init(config)

        return BeanWorld
