"""py-role-check: grants callers holding a role (the Python twin of role-check).

`init` reads the config key `role` (default `admin`). The property
`camel.auth.roles` is a JSON array of strings or a comma-separated string; a
caller without the role is denied with `py-role-check: requires role 'ROLE'`.
"""

from camel_wasm_guest import Exchange, allow, deny, init, policy

required = "admin"


@init
def setup(config: dict[str, str]) -> None:
    global required
    required = config.get("role", "admin")
    if not required:
        raise ValueError("py-role-check: config 'role' is empty")


@policy
def check(ex: Exchange) -> str | None:
    roles = ex.properties.get("camel.auth.roles", [])
    if isinstance(roles, str):
        roles = [r.strip() for r in roles.split(",")]
    if isinstance(roles, list) and required in roles:
        return allow()
    return deny(f"py-role-check: requires role '{required}'")
