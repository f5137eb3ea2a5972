"""{{name}}: a camel-wasm bean with two methods, `echo` and `shout`."""

from camel_wasm_guest import Bean, Exchange, init

{{module}} = Bean()
greeting = "hello"


@init
def setup(config: dict[str, str]) -> None:
    global greeting
    greeting = config.get("greeting", "hello")


@{{module}}.method
async def echo(ex: Exchange) -> Exchange:
    return ex


@{{module}}.method
async def shout(ex: Exchange) -> Exchange:
    ex.body = f"{greeting}, {ex.text.upper()}!"
    return ex
