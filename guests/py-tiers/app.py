"""py-tiers: an order's routing rules (the Python twin of part of tiers).

The order is a JSON body (`{"tier": "gold", "amount": 1200, "items": [...]}`);
a `tier`, `amount` or `items` header, when present, wins over the body.

| entry | kind | result |
|---|---|---|
| `is-gold`, `is-silver` | predicate | the tier (case-insensitive) is gold / silver |
| `is-big` | predicate | amount >= 1000 (the `init` config's `big-from`); a non-number amount is a type-conversion error |
| `tier` | expression | the tier, lower-cased; `"none"` when absent |
| `items` | expression | the `items` array; `[]` when absent |
"""

import json
from typing import Any

from camel_wasm_guest import Exchange, Language, TypeConversionError, init

rules = Language()
big_from = 1000


@init
def setup(config: dict[str, str]) -> None:
    global big_from
    text = config.get("big-from")
    if text is not None:
        try:
            big_from = int(text)
        except ValueError:
            raise ValueError(f"big-from '{text}' is not a whole number") from None


_ABSENT = object()


def field(ex: Exchange, key: str) -> Any:
    """The header `key` (a JSON-aware value), else the JSON body's field; `_ABSENT` when neither."""
    if key in ex.headers:
        return ex.headers[key]
    body = ex.body
    if isinstance(body, (str, bytes)):
        try:
            body = json.loads(body)
        except ValueError:
            return _ABSENT
    if isinstance(body, dict):
        return body.get(key, _ABSENT)
    return _ABSENT


def tier(ex: Exchange) -> str:
    value = field(ex, "tier")
    return value.lower() if isinstance(value, str) else "none"


def amount(ex: Exchange) -> float:
    value = field(ex, "amount")
    if value is _ABSENT:
        return 0.0
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            raise TypeConversionError(f"amount '{value}' is not a number") from None
    raise TypeConversionError(f"amount is {json.dumps(value)}, not a number")


@rules.predicate
def is_gold(ex: Exchange) -> bool:
    return tier(ex) == "gold"


@rules.predicate
def is_silver(ex: Exchange) -> bool:
    return tier(ex) == "silver"


@rules.predicate
def is_big(ex: Exchange) -> bool:
    return amount(ex) >= big_from


@rules.expression("tier")
def tier_name(ex: Exchange) -> str:
    return tier(ex)


@rules.expression
def items(ex: Exchange) -> list[Any]:
    value = field(ex, "items")
    if value is _ABSENT:
        return []
    if isinstance(value, list):
        return value
    raise TypeConversionError(f"items is {json.dumps(value)}, not an array")
