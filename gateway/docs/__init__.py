"""Documents generated from the code and the contracts, so they cannot go stale.

`docs/asyncapi.json` is `render_asyncapi(build_asyncapi(registry))` for the schemas in
`schemas/avro`; `lgsp schemas asyncapi --out docs/asyncapi.json` regenerates it and a unit
test fails when the checked-in copy differs.
"""

from gateway.docs.asyncapi import (
    ASYNCAPI_VERSION,
    AVRO_SCHEMA_FORMAT,
    build_asyncapi,
    render_asyncapi,
)

__all__ = ["ASYNCAPI_VERSION", "AVRO_SCHEMA_FORMAT", "build_asyncapi", "render_asyncapi"]
