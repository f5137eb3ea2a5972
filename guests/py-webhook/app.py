"""py-webhook: a source that accepts signed webhooks (the Python twin of webhook-source).

Config: `secret` (required), `bind` and `path` (the listener), `concurrency`.
For each request: reads the body (at most 1 MiB, else 413); checks
`x-signature: sha256=<hex>`, the HMAC-SHA256 of the body under `secret`
(missing: 401 `missing x-signature`, wrong: 401 `bad signature`); the body
must be a JSON object with a string `event` (else 400). Submits an in-only
exchange with the request's headers plus `x-event`, the JSON body as received,
and the method and path as properties.
"""

import hashlib
import hmac
import json

from camel_wasm_guest import BodyTooLarge, Exchange, Json, Plan, ProcessorError, Request, Source

MAX_BODY = 1024 * 1024

hook = Source()


@hook.configure
def configure(config: dict[str, str]) -> Plan:
    if not config.get("secret"):
        raise ProcessorError("py-webhook: config 'secret' is required")
    return Plan.from_config(config)


@hook.handler
async def handle(req: Request) -> Exchange:
    secret = hook.config["secret"].encode()
    try:
        body = await req.read_body(MAX_BODY)
    except BodyTooLarge:
        return req.reject(413, f"payload larger than {MAX_BODY} bytes")
    signature = req.header("x-signature")
    if signature is None:
        return req.reject(401, "missing x-signature")
    expected = "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signature.strip().lower()):
        return req.reject(401, "bad signature")
    try:
        payload = json.loads(body)
        event = payload["event"]
        if not isinstance(event, str):
            raise TypeError
    except (ValueError, TypeError, KeyError):
        return req.reject(400, 'payload must be a JSON object with a string "event"')
    ex = req.into_exchange()
    ex.body = Json(body.decode())
    ex.headers["x-event"] = event
    return ex
