"""py-stream-count: reads a stream body chunk by chunk, keeping nothing.

Replaces the body with the decimal byte count and sets the headers
`x-stream-bytes` and `x-stream-chunks` (numbers). A body that is not a
stream is counted from memory, as one chunk. A stream whose producer fails
fails the call with `stream failed: <its message>`.
"""

from camel_wasm_guest import CamelError, Exchange, ProcessorError, Stream, plugin


@plugin
async def process(ex: Exchange) -> Exchange:
    body = ex.body
    size = chunks = 0
    if isinstance(body, Stream):
        try:
            async for chunk in body:
                size += len(chunk)
                chunks += 1
        except CamelError as e:
            raise ProcessorError(f"stream failed: {e.message}") from None
    elif body is not None:
        size = len(body if isinstance(body, bytes) else ex.text.encode())
        chunks = 1 if size else 0
    ex.body = str(size)
    ex.headers["x-stream-bytes"] = size
    ex.headers["x-stream-chunks"] = chunks
    return ex
