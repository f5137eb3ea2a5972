"""The decorators that make a module a component of one world.

Each puts the `WitWorld` class componentize-py looks for into the module of
the function it decorates, so the guest module holds only plain functions.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Awaitable, Callable
from typing import Any, Literal, TypeVar, overload

from .body import Json
from .errors import ProcessorError, TypeConversionError, to_wire
from .exchange import Exchange

F = TypeVar("F", bound=Callable[..., Any])
P = TypeVar("P", bound=Callable[[Exchange], bool])
E = TypeVar("E", bound=Callable[[Exchange], Any])
Config = dict[str, str]
Kind = Literal["predicate", "expression"]

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


class Language:
    """A language: named predicates and expressions a route evaluates (`language: wasm`).

    ```python
    rules = Language()

    @rules.predicate
    def is_gold(ex: Exchange) -> bool: ...        # entry "is-gold"

    @rules.expression("tier")
    def tier_name(ex: Exchange) -> str: ...       # entry "tier", sent as JSON text
    ```

    Entries are synchronous and read the exchange only: what they change is not sent back.
    """

    def __init__(self) -> None:
        self.entries: dict[str, tuple[Kind, Callable[[Exchange], Any]]] = {}
        self._module: str | None = None

    @overload
    def predicate(self, fn: P) -> P: ...

    @overload
    def predicate(self, fn: str) -> Callable[[P], P]: ...

    def predicate(self, fn: P | str) -> P | Callable[[P], P]:
        """Registers `def f(ex) -> bool` under its name (`_` as `-`), or `@rules.predicate("name")`."""
        if isinstance(fn, str):
            name = fn
            return lambda f: self._add(name, "predicate", f)
        return self._add(fn.__name__.replace("_", "-"), "predicate", fn)

    @overload
    def expression(self, fn: E) -> E: ...

    @overload
    def expression(self, fn: str) -> Callable[[E], E]: ...

    def expression(self, fn: E | str) -> E | Callable[[E], E]:
        """Registers `def f(ex) -> value` (any JSON-encodable value) under its name, or `@rules.expression("name")`."""
        if isinstance(fn, str):
            name = fn
            return lambda f: self._add(name, "expression", f)
        return self._add(fn.__name__.replace("_", "-"), "expression", fn)

    def _add(self, name: str, kind: Kind, fn: F) -> F:
        if name in self.entries:
            raise ValueError(f"language entry '{name}' is defined twice")
        self.entries[name] = (kind, fn)
        if self._module is None:
            self._module = fn.__module__
            _export(fn.__module__, self._world())
        return fn

    def _world(self) -> type:
        table = self.entries

        def find(name: str) -> tuple[Kind, Callable[[Exchange], Any]]:
            entry = table.get(name)
            if entry is None:
                raise ProcessorError(f"unknown entry '{name}'")
            return entry

        def predicate(name: str) -> Callable[[Exchange], Any]:
            kind, fn = find(name)
            if kind != "predicate":
                raise ProcessorError(f"'{name}' is an expression, not a predicate")
            return fn

        def decide(name: str, ex: Exchange) -> bool:
            matched = predicate(name)(ex)
            if not isinstance(matched, bool):
                raise TypeConversionError(f"predicate '{name}' returned {type(matched).__name__}, not bool")
            return matched

        class LanguageWorld:
            def entries(self) -> list[Any]:
                import wit_world

                kinds = {"predicate": wit_world.EntryKind.PREDICATE, "expression": wit_world.EntryKind.EXPRESSION}
                return [wit_world.Entry(name, kinds[kind]) for name, (kind, _) in table.items()]

            def init(self, config: list[tuple[str, str]]) -> None:
                _run_init(config)

            def matches(self, name: str, exchange: Any) -> bool:
                try:
                    return decide(name, Exchange._from_wire(exchange))
                except Exception as e:
                    raise _fail(e) from None

            def evaluate(self, name: str, exchange: Any) -> str:
                try:
                    kind, fn = find(name)
                    if kind != "expression":
                        raise ProcessorError(f"'{name}' is a predicate, not an expression")
                    value = fn(Exchange._from_wire(exchange))
                    if isinstance(value, Json):
                        return str(value)
                    try:
                        return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
                    except (TypeError, ValueError) as e:
                        raise TypeConversionError(f"expression '{name}' returned a value JSON cannot hold: {e}") from None
                except Exception as e:
                    raise _fail(e) from None

            def first_match(self, names: list[str], exchange: Any) -> int | None:
                from componentize_py_types import Err
                import wit_world

                ex = Exchange._from_wire(exchange)
                for index, name in enumerate(names):
                    try:
                        if decide(name, ex):
                            return index
                    except Exception as e:
                        raise Err(wit_world.ClauseError(index, to_wire(e))) from None
                return None

        return LanguageWorld
