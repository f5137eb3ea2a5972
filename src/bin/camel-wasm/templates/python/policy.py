"""{{name}}: a camel-wasm authorization policy. Grants an authenticated subject."""

from camel_wasm_guest import Exchange, allow, deny, policy


@policy
def check(ex: Exchange) -> str | None:
    subject = ex.properties.get("camel.auth.subject")
    if not subject:
        return deny("{{name}}: no authenticated subject")
    return allow()
