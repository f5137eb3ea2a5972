"""{{name}}: a camel-wasm plugin. Upper-cases a text body and tags the message."""

from camel_wasm_guest import Exchange, plugin


@plugin
async def process(ex: Exchange) -> Exchange:
    ex.body = ex.text.upper()
    ex.headers["x-processed-by"] = "{{name}}"
    return ex
