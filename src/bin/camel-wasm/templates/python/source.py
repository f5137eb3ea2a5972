"""{{name}}: a camel-wasm source. It asks for one HTTP listener (config `bind`,
default 0.0.0.0:8080, and `path`) and submits each request as an exchange."""

from camel_wasm_guest import Exchange, Request, source


@source
async def handle(req: Request) -> Exchange:
    ex = req.into_exchange()
    ex.headers["x-source"] = "{{name}}"
    return ex
