"""The `source` world: accept HTTP requests on a host-owned listener and submit exchanges."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from .body import Stream
from .errors import ProcessorError, raised, to_wire
from .exchange import Exchange, Pattern
from .fields import Fields

#: The header carrying the host's id for a request.
REQUEST_ID_HEADER = "camel-wasm-request-id"
#: The header of a reply's HTTP status.
RESPONSE_CODE_HEADER = "camel.http.response-code"
#: `camel-wasm-reply: direct` asks the host to answer without running the route.
REPLY_HEADER = "camel-wasm-reply"
#: The property holding the request's method.
METHOD_PROPERTY = "camel.http.method"
#: The property holding the request's path.
PATH_PROPERTY = "camel.http.path"

DEFAULT_BIND = "0.0.0.0:8080"


@dataclass
class Plan:
    """What the source asks for: one HTTP listener on `bind` (and `path`), and how many requests at once."""

    bind: str = DEFAULT_BIND
    path: str | None = None
    concurrency: int = 1

    @classmethod
    def from_config(cls, config: dict[str, str]) -> Plan:
        """`bind` (default 0.0.0.0:8080), `path` (default any) and `concurrency` (default 1) from the config."""
        bind = config.get("bind", DEFAULT_BIND)
        if not bind.strip():
            raise ProcessorError("source: config 'bind' is empty")
        try:
            concurrency = int(config.get("concurrency", "1"))
        except ValueError:
            raise ProcessorError("source: config 'concurrency' is not a number") from None
        return cls(bind, config.get("path"), concurrency)

    def _to_wire(self) -> Any:
        from wit_world.imports import source_host as sh

        if not 1 <= self.concurrency <= 65535:
            raise ProcessorError(f"source: concurrency {self.concurrency} is not in 1..65535")
        model = sh.ConcurrencyModel_Sequential() if self.concurrency == 1 else sh.ConcurrencyModel_Concurrent(self.concurrency)
        return sh.SourcePlan([sh.CapabilityRequest_HttpListener(sh.HttpListenerSpec(self.bind, self.path))], model)


class Request:
    """One HTTP request the host accepted: lower-case `headers`, and a stream `body`."""

    def __init__(self, method: str, path: str, headers: list[tuple[str, str]], body: Any) -> None:
        self.method = method
        self.path = path
        self.headers = Fields(headers)
        self.body: Stream | None = body
        self.id: str | None = self.headers.text(REQUEST_ID_HEADER)

    def header(self, name: str) -> str | None:
        """A header's text, by name in any case."""
        return self.headers.text(name.lower())

    async def read_body(self, limit: int) -> bytes:
        """The whole body; `BodyTooLarge` past `limit` bytes."""
        body, self.body = self.body, None
        return b"" if body is None else await body.read_all(limit)

    def into_exchange(self, pattern: Pattern = Pattern.IN_ONLY) -> Exchange:
        """An exchange with the request's headers and body, correlation id = the request id, and
        the method and path as properties."""
        ex = Exchange(self.body, pattern=pattern, correlation_id=self.id or "")
        ex.input._headers = self.headers
        ex.properties[METHOD_PROPERTY] = self.method
        ex.properties[PATH_PROPERTY] = self.path
        return ex

    def reject(self, status: int, message: str) -> Exchange:
        """An exchange the host answers directly with `status` and `message`, without running the route."""
        ex = rejection(self.id, status, message)
        ex.properties[METHOD_PROPERTY] = self.method
        ex.properties[PATH_PROPERTY] = self.path
        return ex


def rejection(request_id: str | None, status: int, message: str) -> Exchange:
    """The direct reply for a request that must not run the route."""
    ex = Exchange(message or None, pattern=Pattern.IN_OUT, correlation_id=request_id or "")
    if request_id is not None:
        ex.headers[REQUEST_ID_HEADER] = request_id
    ex.headers[RESPONSE_CODE_HEADER] = status
    ex.headers[REPLY_HEADER] = "direct"
    ex.headers["content-type"] = "text/plain; charset=utf-8"
    return ex


class Listener:
    """The host's listener, with the source's config and plan."""

    def __init__(self, handle: Any, config: dict[str, str], plan: Plan) -> None:
        self._handle = handle
        self.config = config
        self.plan = plan

    async def accept(self) -> Request | None:
        """The next request; None when the source is stopping."""
        from wit_world.imports import source_host

        try:
            request = await source_host.accept_http(self._handle)
        except Exception as e:
            raise raised(e) from None
        if request is None:
            return None
        return Request(request.method, request.path, request.headers, Stream(request.body))


async def submit(ex: Exchange) -> bool:
    """Pushes `ex` into the route; False once the source is stopping."""
    from wit_world.imports import source_host

    try:
        outcome = await source_host.submit_exchange(ex._to_wire())
    except Exception as e:
        raise raised(e) from None
    return isinstance(outcome, source_host.SubmitOutcome_Accepted)


def is_cancelled() -> bool:
    """Whether the host is stopping the source."""
    from wit_world.imports import source_host

    return source_host.is_cancelled()


Handler = Callable[[Request], Awaitable[Exchange]]


async def serve(listener: Listener, handler: Handler) -> None:
    """Accepts requests and submits what `handler` makes of each, until the source stops.

    Up to `plan.concurrency` requests are handled at once. A handler that raises
    submits a 500 rejection with the error's text instead; every accepted request
    is submitted exactly once.
    """
    limit = asyncio.Semaphore(max(1, listener.plan.concurrency))
    running: set[asyncio.Task[None]] = set()
    stopping = False

    async def one(request: Request) -> None:
        nonlocal stopping
        try:
            try:
                ex = await handler(request)
            except Exception as e:
                message = to_wire(e)
                ex = rejection(request.id, 500, getattr(message, "value", "timeout"))
                ex.properties[METHOD_PROPERTY] = request.method
                ex.properties[PATH_PROPERTY] = request.path
            try:
                if not await submit(ex):
                    stopping = True
            except Exception as e:
                print(f"camel-wasm-guest: a submitted exchange failed: {e}", file=sys.stderr)
        finally:
            limit.release()

    failure: Exception | None = None
    while not stopping and not is_cancelled():
        await limit.acquire()
        try:
            request = await listener.accept()
        except Exception as e:
            limit.release()
            failure = e
            break
        if request is None:
            limit.release()
            break
        task = asyncio.get_event_loop().create_task(one(request))
        running.add(task)
        task.add_done_callback(running.discard)
    while running:
        await asyncio.gather(*list(running))
    if failure is not None:
        raise failure


class Source:
    """A source: `configure` makes the plan, `handler` (or `run`) serves.

    ```python
    hook = Source()

    @hook.handler
    async def handle(req: Request) -> Exchange:
        return req.into_exchange()
    ```
    """

    def __init__(self, handler: Handler | None = None) -> None:
        self._configure: Callable[[dict[str, str]], Plan] = Plan.from_config
        self._handler = handler
        self._run: Callable[[Listener], Awaitable[None]] | None = None
        self._config: dict[str, str] = {}
        self._plan = Plan()
        self._exported = False
        if handler is not None:
            self._export(handler.__module__)

    @property
    def config(self) -> dict[str, str]:
        """The configuration `configure` was given."""
        return self._config

    def configure(self, fn: Callable[[dict[str, str]], Plan]) -> Callable[[dict[str, str]], Plan]:
        """Registers `def configure(config) -> Plan` (default: `Plan.from_config`)."""
        self._configure = fn
        self._export(fn.__module__)
        return fn

    def handler(self, fn: Handler) -> Handler:
        """Registers the async handler `serve` runs for each request."""
        self._handler = fn
        self._export(fn.__module__)
        return fn

    def run(self, fn: Callable[[Listener], Awaitable[None]]) -> Callable[[Listener], Awaitable[None]]:
        """Registers `async def run(listener)` for full control (it usually calls `serve`)."""
        self._run = fn
        self._export(fn.__module__)
        return fn

    def _export(self, module: str) -> None:
        if self._exported:
            return
        self._exported = True
        from componentize_py_types import Err

        from .worlds import _export

        me = self

        class SourceWorld:
            def configure(self, config: list[tuple[str, str]]) -> Any:
                me._config = dict(config)
                try:
                    me._plan = me._configure(me._config)
                    return me._plan._to_wire()
                except Exception as e:
                    raise Err(to_wire(e)) from None

            async def run(self, listener: Any) -> None:
                port = Listener(listener, me._config, me._plan)
                try:
                    if me._run is not None:
                        await me._run(port)
                    elif me._handler is not None:
                        await serve(port, me._handler)
                    else:
                        raise ProcessorError("source: no handler or run function is registered")
                except Exception as e:
                    raise Err(to_wire(e)) from None

        _export(module, SourceWorld)


def source(handler: Handler) -> Handler:
    """Exports `async def handle(req) -> Exchange` as a source served with the plan from its config."""
    Source(handler)
    return handler
