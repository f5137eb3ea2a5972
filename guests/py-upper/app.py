"""py-upper: upper-cases a text body and tags the message with the language."""

from camel_wasm_guest import Exchange, plugin


@plugin
async def process(ex: Exchange) -> Exchange:
    ex.body = ex.text.upper()
    ex.headers["x-lang"] = "python"
    return ex
