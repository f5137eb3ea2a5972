"""py-counter: counts its calls in the host's state.

Sets the header `x-count` to the new value of the atomic counter `calls`
(`state.increment`), and `x-last` to the previous call's body (`state.load`;
absent on the first call), then stores this body as the last one.
"""

from camel_wasm_guest import Exchange, plugin, state


@plugin
async def process(ex: Exchange) -> Exchange:
    ex.headers["x-count"] = state.increment("calls")
    last = state.load("last")
    if last is not None:
        ex.headers["x-last"] = last
    state.store("last", ex.text)
    return ex
