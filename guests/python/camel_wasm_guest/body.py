"""Bodies: plain Python values on the way in and out, and stream bodies."""

from __future__ import annotations

import json
from collections.abc import AsyncIterable, AsyncIterator
from typing import Any, Union

from .errors import IoError, TypeConversionError, from_wire

#: Bytes read per chunk from a stream body.
CHUNK_SIZE = 64 * 1024


class BodyTooLarge(IoError):
    """A body past the limit a guest set for reading it."""


class Xml(str):
    """A text body sent as the WIT `xml` variant: `ex.body = Xml("<a/>")`."""


class Json(str):
    """JSON text sent as is, without parsing: `ex.body = Json('{"a":1}')`."""


class Stream:
    """A stream body: read it once, chunk by chunk or whole.

    `async for chunk in ex.body` yields `bytes`; `await ex.body.read_all()`
    returns them joined. A failure the producer reports at the end of the
    stream raises `IoError`.
    """

    def __init__(self, handle: Any) -> None:
        self._handle = handle
        self._used = False
        self.size_hint: int | None = handle.size_hint
        self.content_type: str | None = handle.content_type
        self.origin: str | None = handle.origin

    def _take(self) -> Any:
        if self._used:
            raise IoError("the stream body was read already")
        self._used = True
        return self._handle

    async def __aiter__(self) -> AsyncIterator[bytes]:
        handle = self._take()
        with handle.stream as reader:
            while True:
                chunk = await reader.read(CHUNK_SIZE)
                if chunk:
                    yield chunk
                elif reader.writer_dropped:
                    break
        await _settle(handle.terminal)

    async def read_all(self, limit: int | None = None) -> bytes:
        """Every byte of the stream; `BodyTooLarge` past `limit` bytes."""
        parts: list[bytes] = []
        size = 0
        async for chunk in self:
            size += len(chunk)
            if limit is not None and size > limit:
                raise BodyTooLarge(f"stream body larger than {limit} bytes")
            parts.append(chunk)
        return b"".join(parts)

    async def text(self, limit: int | None = None) -> str:
        """The whole stream decoded as UTF-8."""
        data = await self.read_all(limit)
        try:
            return data.decode()
        except UnicodeDecodeError as e:
            raise TypeConversionError(f"stream body is not UTF-8: {e}") from None


async def _settle(terminal: Any) -> None:
    """Reads a stream's terminal future; raises the producer's failure."""
    from componentize_py_types import Err

    with terminal as future:
        try:
            outcome = await future.read()
        except Err as e:
            outcome = e
    if isinstance(outcome, Err):
        raise from_wire(outcome.value)


class StreamOut:
    """A body produced while the host reads it: `ex.body = stream_from(chunks())`.

    `chunks` is an async iterable of `bytes` (or `str`, sent as UTF-8). It runs
    after the guest function returns; an exception it raises reaches the host as
    the stream's failure.
    """

    def __init__(self, chunks: AsyncIterable[bytes | str], content_type: str | None = None,
                 size_hint: int | None = None) -> None:
        self.chunks = chunks
        self.content_type = content_type
        self.size_hint = size_hint


def stream_from(chunks: AsyncIterable[bytes | str], content_type: str | None = None,
                size_hint: int | None = None) -> StreamOut:
    """A stream body written from `chunks` after the call returns."""
    return StreamOut(chunks, content_type, size_hint)


Value = Union[None, str, bytes, dict, list, int, float, bool, Stream, StreamOut]


def read(body: Any) -> Any:
    """A WIT body as a Python value: None, str, bytes, a JSON value, `Xml` or a `Stream`."""
    from wit_world.imports import types

    cls = type(body)
    if cls is types.WasmBody_Text:
        return body.value
    if cls is types.WasmBody_Json:
        try:
            return json.loads(body.value)
        except ValueError as e:
            raise TypeConversionError(f"JSON body does not parse: {e}") from None
    if cls is types.WasmBody_Bytes:
        return body.value
    if cls is types.WasmBody_Empty:
        return None
    if cls is types.WasmBody_Xml:
        return Xml(body.value)
    return Stream(body.value)


def write(value: Any) -> Any:
    """A Python value as a WIT body (a `StreamOut` starts its writer)."""
    from wit_world.imports import types

    cls = type(value)
    if cls is str:
        return types.WasmBody_Text(value)
    if value is None:
        return types.WasmBody_Empty()
    if cls is Xml:
        return types.WasmBody_Xml(str(value))
    if cls is Json:
        return types.WasmBody_Json(str(value))
    if isinstance(value, (bytes, bytearray, memoryview)):
        return types.WasmBody_Bytes(bytes(value))
    if isinstance(value, (dict, list, int, float, bool)):
        return types.WasmBody_Json(json.dumps(value, separators=(",", ":"), ensure_ascii=False))
    if isinstance(value, str):
        return types.WasmBody_Text(str(value))
    if cls is Stream:
        return types.WasmBody_Stream(value._take())
    if cls is StreamOut:
        return types.WasmBody_Stream(_start(value))
    raise TypeConversionError(f"a body cannot be a {type(value).__name__}")


def _start(out: StreamOut) -> Any:
    """Makes the stream and terminal future of `out` and spawns the writer that fills them."""
    import componentize_py_async_support
    import wit_world
    from componentize_py_types import Err, Ok
    from wit_world.imports import types

    writer, reader = wit_world.byte_stream()
    done, terminal = wit_world.result_unit_types_wasm_error_future(lambda: Ok(None))

    async def produce() -> None:
        from .errors import to_wire

        outcome: Any = Ok(None)
        try:
            with writer as w:
                async for chunk in out.chunks:
                    if isinstance(chunk, str):
                        chunk = chunk.encode()
                    if chunk:
                        await w.write_all(chunk)
                        if w.reader_dropped:
                            break
        except Exception as e:
            outcome = Err(to_wire(e))
        with done as d:
            await d.write(outcome)

    componentize_py_async_support.spawn(produce())
    return types.StreamBodyHandle(reader, terminal, out.size_hint, out.content_type, None)
