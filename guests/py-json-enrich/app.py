"""py-json-enrich: adds fields to a JSON object body, from its headers and properties.

The body (JSON, or text holding JSON) must be an object, else a type-conversion
error. Adds `"enriched_by": "py-json-enrich"`, `"tenant"` from the header
`x-tenant` (null when absent) and `"priority"` from the property `priority`
(null when absent). Sets the header `x-fields` (the number of keys, a number)
and the property `enriched` (true).
"""

import json

from camel_wasm_guest import Exchange, TypeConversionError, plugin


@plugin
async def process(ex: Exchange) -> Exchange:
    order = ex.body
    if isinstance(order, str):
        try:
            order = json.loads(order)
        except ValueError as e:
            raise TypeConversionError(f"py-json-enrich: body is not JSON: {e}") from None
    if not isinstance(order, dict):
        raise TypeConversionError(f"py-json-enrich: expected a JSON object, got {type(order).__name__}")
    order["enriched_by"] = "py-json-enrich"
    order["tenant"] = ex.headers.get("x-tenant")
    order["priority"] = ex.properties.get("priority")
    ex.body = order
    ex.headers["x-fields"] = len(order)
    ex.properties["enriched"] = True
    return ex
