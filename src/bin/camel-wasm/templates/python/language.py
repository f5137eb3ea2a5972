"""{{name}}: camel-wasm predicates and expressions for routes (`{{name}}.wasm#is-vip`)."""

from camel_wasm_guest import Exchange, Language

rules = Language()


@rules.predicate
def is_vip(ex: Exchange) -> bool:
    return ex.headers.get("customer") == "vip"


@rules.expression
def greeting(ex: Exchange) -> str:
    return f"hello, {ex.headers.get('customer') or 'guest'}"
