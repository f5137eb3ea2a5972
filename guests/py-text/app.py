"""py-text: a bean of text methods (the Python twin of text-utils).

| method | result |
|---|---|
| `upper` | the text upper-cased |
| `reverse` | the text reversed (by character) |
| `count` | a JSON body `{"count": <number of characters>}` |
| `fail` | the processor error `py-text: fail was called` |
| `suffix` | the text followed by the `init` config's `suffix` (default `!`) |
"""

from camel_wasm_guest import Bean, Exchange, ProcessorError, init

text = Bean()
suffix = "!"


@init
def setup(config: dict[str, str]) -> None:
    global suffix
    suffix = config.get("suffix", "!")


@text.method
async def upper(ex: Exchange) -> Exchange:
    ex.body = ex.text.upper()
    return ex


@text.method
async def reverse(ex: Exchange) -> Exchange:
    ex.body = ex.text[::-1]
    return ex


@text.method
async def count(ex: Exchange) -> Exchange:
    ex.body = {"count": len(ex.text)}
    return ex


@text.method
async def fail(ex: Exchange) -> Exchange:
    raise ProcessorError("py-text: fail was called")


@text.method("suffix")
async def add_suffix(ex: Exchange) -> Exchange:
    ex.body = ex.text + suffix
    return ex
