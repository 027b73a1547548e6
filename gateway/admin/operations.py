"""Documented routes: one `Operation` gives aiohttp its route and OpenAPI its entry.

Because the handler and its documentation are declared together, the OpenAPI document
cannot drift from what the server actually serves.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import orjson
from aiohttp import web
from pydantic import BaseModel, ValidationError

from gateway.errors import ConfigError
from gateway.settings import problems_from

__all__ = [
    "JSON",
    "Body",
    "Handler",
    "Operation",
    "QueryParameter",
    "json_response",
    "read_body",
]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
M = TypeVar("M", bound=BaseModel)
JSON = "application/json"


@dataclass(frozen=True, slots=True)
class Body:
    """A documented response: its description and body type (None: no body).

    `schema` is anything pydantic can describe (a model, `list[str]`, a union); with a
    non-JSON `media_type` it is ignored and the body is described as a string.
    """

    description: str
    schema: Any = None
    media_type: str = JSON


@dataclass(frozen=True, slots=True)
class QueryParameter:
    """A documented query parameter."""

    name: str
    description: str
    type: str = "string"
    repeated: bool = False
    schema: Mapping[str, Any] | None = None
    """More JSON Schema for the value (e.g. minimum, maximum, enum), merged into its type."""


@dataclass(frozen=True, slots=True)
class Operation:
    """One HTTP operation: route, handler and the documentation OpenAPI is built from."""

    method: str
    path: str
    handler: Handler
    summary: str
    responses: Mapping[int, Body]
    request: Any = None
    """Request body type (a pydantic model), or None when the operation takes no body."""
    query: tuple[QueryParameter, ...] = ()
    tags: tuple[str, ...] = ()
    description: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)
    """Merged into the OpenAPI operation object as is."""

    def route(self) -> web.RouteDef:
        """The aiohttp route (GET also answers HEAD, as aiohttp's `web.get` does)."""
        kwargs: dict[str, Any] = {"allow_head": True} if self.method == "GET" else {}
        return web.RouteDef(self.method, self.path, self.handler, kwargs)


def json_response(
    body: BaseModel | list[Any] | dict[str, Any], status: int = 200, *,
    exclude_none: bool = False,
) -> web.Response:
    """Serialise a model (by alias) or plain JSON data into a JSON response."""
    data = body.model_dump(mode="json", by_alias=True, exclude_none=exclude_none) \
        if isinstance(body, BaseModel) else body
    return web.Response(body=orjson.dumps(data), status=status, content_type=JSON)


async def read_body(request: web.Request, model: type[M]) -> M:
    """The request's JSON body validated with `model`.

    Raises ConfigError (400): "malformed JSON body: ..." or one naming each bad field.
    """
    raw = await request.read()
    if not raw.strip():
        raise ConfigError("malformed JSON body: the request has no body; send a JSON object")
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ConfigError(f"malformed JSON body: {exc}") from exc
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ConfigError("invalid request body", problems_from(exc)) from exc
