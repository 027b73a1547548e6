"""The OpenAPI 3.1 document of the admin API, generated from its `Operation`s.

Schemas come from the pydantic models (OpenAPI 3.1 is JSON Schema 2020-12, so pydantic's
output drops into `components/schemas` unchanged). Routes added without documentation
(a plain aiohttp `RouteDef`) still appear, marked as undocumented, so the document
always lists every path the server answers.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from aiohttp import web
from pydantic import TypeAdapter
from pydantic.json_schema import JsonSchemaMode

from gateway import __version__
from gateway.admin.models import ErrorResponse
from gateway.admin.operations import JSON, Operation
from gateway.auth import PUBLIC_PATHS, permission_for

__all__ = ["build_openapi", "openapi_path"]

_PARAM = re.compile(r"\{([^}:]+)(?::[^}]*)?\}")
_REF = "#/components/schemas/{model}"
_Key = tuple[str, int, int]


def openapi_path(path: str) -> str:
    """An aiohttp path in OpenAPI's template syntax (`{name:regex}` -> `{name}`)."""
    return _PARAM.sub(r"{\1}", path)


def build_openapi(
    operations: Sequence[Operation],
    routes: Sequence[web.RouteDef] = (),
    *,
    title: str = "LGSP gateway admin API",
    version: str = __version__,
) -> dict[str, Any]:
    """The OpenAPI 3.1 document for documented operations and undocumented routes."""
    inputs: list[tuple[_Key, JsonSchemaMode, TypeAdapter[Any]]] = []
    for i, op in enumerate(operations):
        if op.request is not None:
            inputs.append((("request", i, 0), "validation", TypeAdapter(op.request)))
        for status, body in op.responses.items():
            if body.schema is not None and body.media_type == JSON:
                inputs.append((("response", i, status), "serialization",
                               TypeAdapter(body.schema)))
    inputs.append((("error", 0, 0), "serialization", TypeAdapter(ErrorResponse)))
    schemas, definitions = TypeAdapter.json_schemas(inputs, ref_template=_REF)
    by_key = {key: schema for (key, _mode), schema in schemas.items()}

    paths: dict[str, dict[str, Any]] = {}
    for i, op in enumerate(operations):
        paths.setdefault(openapi_path(op.path), {})[op.method.lower()] = _operation(
            i, op, by_key
        )
    for route in routes:
        doc = (getattr(route.handler, "__doc__", None) or "").strip().splitlines()
        entry: dict[str, Any] = {
            "summary": doc[0] if doc else "Undocumented route",
            "parameters": _path_parameters(route.path),
            "responses": {"default": {"description": "Undocumented response."}},
        }
        _secure(entry, route.method, route.path, by_key[("error", 0, 0)])
        paths.setdefault(openapi_path(route.path), {})[route.method.lower()] = entry
    return {
        "openapi": "3.1.0",
        "info": {
            "title": title,
            "version": version,
            "description": "Kafka Connect-style administration of the LGSP gateway's "
                           "connectors, plus health and metrics. Errors are always "
                           '`{"error_code": <status>, "message": <one line>}`.',
        },
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": definitions.get("$defs", {}),
            "securitySchemes": {_SCHEME: {
                "type": "http", "scheme": "bearer",
                "description": "A local API token (`lgsp tokens create`, starts with "
                               "`lgsp_`) or the province's identity-provider JWT (RS256 "
                               "or ES256). Each operation's `x-required-role` names the "
                               "role it needs; admin may do everything.",
            }},
        },
        "security": [{_SCHEME: []}],
    }


def _operation(i: int, op: Operation, schemas: dict[_Key, Any]) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "operationId": _operation_id(op),
        "summary": op.summary,
        "tags": list(op.tags),
        "parameters": [*_path_parameters(op.path), *(
            {
                "name": q.name, "in": "query", "required": False, "description": q.description,
                "schema": {"type": "array", "items": {"type": q.type, **(q.schema or {})}}
                if q.repeated else {"type": q.type, **(q.schema or {})},
                **({"explode": True} if q.repeated else {}),
            }
            for q in op.query
        )],
        "responses": {},
    }
    if op.description:
        doc["description"] = op.description
    if op.request is not None:
        doc["requestBody"] = {
            "required": True,
            "content": {JSON: {"schema": schemas[("request", i, 0)]}},
        }
    for status, body in sorted(op.responses.items()):
        entry: dict[str, Any] = {"description": body.description}
        if body.schema is not None and body.media_type == JSON:
            entry["content"] = {JSON: {"schema": schemas[("response", i, status)]}}
        elif body.media_type != JSON:
            entry["content"] = {body.media_type: {"schema": {"type": "string"}}}
        doc["responses"][str(status)] = entry
    doc["responses"].setdefault("500", {
        "description": "Unexpected failure (logged with its traceback).",
        "content": {JSON: {"schema": schemas[("error", 0, 0)]}},
    })
    _secure(doc, op.method, op.path, schemas[("error", 0, 0)])
    doc.update(op.extra)
    return doc


_SCHEME = "bearer"


def _secure(doc: dict[str, Any], method: str, path: str, error: Any) -> None:
    """The operation's security requirement, its role, and its 401/403 answers."""
    if path in PUBLIC_PATHS:
        doc["security"] = []
        return
    role = permission_for(method, path).role.value
    doc["security"] = [{_SCHEME: []}]
    doc["x-required-role"] = role
    doc["description"] = (doc.get("description", "") + f" Requires the `{role}` role."
                          ).strip()
    doc["responses"].setdefault("401", {
        "description": "No or invalid credentials (`WWW-Authenticate: Bearer`).",
        "content": {JSON: {"schema": error}}})
    doc["responses"].setdefault("403", {
        "description": f"The caller lacks the {role} role.",
        "content": {JSON: {"schema": error}}})


def _path_parameters(path: str) -> list[dict[str, Any]]:
    return [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in _PARAM.findall(path)
    ]


def _operation_id(op: Operation) -> str:
    words = re.findall(r"[A-Za-z0-9]+", openapi_path(op.path).replace("{", "by-"))
    return "_".join([op.method.lower(), *words])
