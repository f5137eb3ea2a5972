"""Write camel-wasm guests in plain Python (guide: guests/python/README.md).

```python
from camel_wasm_guest import plugin, Exchange

@plugin
async def process(ex: Exchange) -> Exchange:
    ex.body = ex.body.upper()
    ex.headers["x-lang"] = "python"
    return ex
```

| world | decorator |
|---|---|
| `plugin` | `@plugin` on `async def process(ex)` |
| `bean` | `b = Bean()`, then `@b.method` on each `async def name(ex)` |
| `authorization-policy` | `@policy` on `def check(ex) -> str | None` |
| `source` | `@source` on `async def handle(req)`, or `Source()` with `configure`/`run` |
| `language` | `rules = Language()`, then `@rules.predicate` on `def p(ex) -> bool`, `@rules.expression` on `def e(ex)` |

`@init` registers `def setup(config: dict[str, str])`, run once per instance.
"""

import importlib as _importlib

# componentize-py snapshots the interpreter after importing the app: a module
# first imported later, in a call, is not there. So every binding module the
# SDK may use is imported now, those of other worlds skipped.
for _name in ("componentize_py_types", "componentize_py_async_support", "wit_world", "wit_world.imports.types",
              "wit_world.imports.host", "wit_world.imports.counters", "wit_world.imports.source_host"):
    try:
        _importlib.import_module(_name)
    except ImportError:
        pass

from . import state  # noqa: E402
from .body import CHUNK_SIZE, BodyTooLarge, Json, Stream, StreamOut, Xml, stream_from
from .errors import CamelError, IoError, ProcessorError, Timeout, TypeConversionError
from .exchange import Exchange, Message, Pattern
from .fields import Fields
from .host import call, poll, property, set_property
from .source import (
    METHOD_PROPERTY,
    PATH_PROPERTY,
    REPLY_HEADER,
    REQUEST_ID_HEADER,
    RESPONSE_CODE_HEADER,
    Listener,
    Plan,
    Request,
    Source,
    is_cancelled,
    serve,
    source,
    submit,
)
from .worlds import Bean, Config, Language, allow, deny, init, plugin, policy

__all__ = [
    "Bean", "BodyTooLarge", "CHUNK_SIZE", "CamelError", "Config", "Exchange", "Fields", "IoError", "Json", "Language",
    "Listener", "METHOD_PROPERTY", "Message", "PATH_PROPERTY", "Pattern", "Plan", "ProcessorError", "REPLY_HEADER",
    "REQUEST_ID_HEADER", "RESPONSE_CODE_HEADER", "Request", "Source", "Stream", "StreamOut", "Timeout",
    "TypeConversionError", "Xml", "allow", "call", "deny", "init", "is_cancelled", "plugin", "policy", "poll",
    "property", "serve", "set_property", "source", "state", "stream_from", "submit",
]
