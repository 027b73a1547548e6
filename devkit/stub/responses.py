"""JSON responses of the stub, serialised with orjson."""

from __future__ import annotations

__all__ = ["json_response"]

from collections.abc import Mapping
from typing import Any

import orjson
from aiohttp import web


def json_response(
    status: int, body: Any, headers: Mapping[str, str] | None = None
) -> web.Response:
    """A JSON response; orjson because the default json module is several times slower."""
    return web.Response(status=status, body=orjson.dumps(body),
                        content_type="application/json", headers=headers)
