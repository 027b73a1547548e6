"""Kafka Connect's connector endpoints, served from a `ConnectorRuntime`."""

from __future__ import annotations

from aiohttp import web

from gateway.admin.models import (
    ConfigInfosResponse,
    ConnectorConfigBody,
    ConnectorExpanded,
    ConnectorInfoResponse,
    ConnectorStatusResponse,
    CreateConnectorRequest,
    ErrorResponse,
    PluginResponse,
)
from gateway.admin.operations import Body, Operation, QueryParameter, json_response, read_body
from gateway.connect import ConnectorRuntime
from gateway.errors import ConfigError, ConnectorNotFoundError, FieldProblem

__all__ = ["connector_operations"]

_TAG = ("connectors",)
_E400 = Body("Invalid config (each bad field named) or malformed JSON body.", ErrorResponse)
_E404 = Body("Unknown connector or plugin.", ErrorResponse)
_E409 = Body("A connector with this name already exists.", ErrorResponse)
_EXPANDS = ("status", "info")


def connector_operations(runtime: ConnectorRuntime) -> list[Operation]:
    """Every connector and plugin operation, with handlers bound to `runtime`."""

    def info(name: str) -> ConnectorInfoResponse:
        return ConnectorInfoResponse.model_validate(runtime.get(name), from_attributes=True)

    def status(name: str) -> ConnectorStatusResponse:
        return ConnectorStatusResponse.model_validate(runtime.status(name), from_attributes=True)

    async def list_connectors(request: web.Request) -> web.Response:
        expand = request.query.getall("expand", [])
        unknown = [e for e in expand if e not in _EXPANDS]
        if unknown:
            raise ConfigError("invalid query", (FieldProblem(
                "expand", f"{unknown[0]!r} is not one of {', '.join(_EXPANDS)}"),))
        if not expand:
            return json_response(runtime.list())
        expanded = {
            name: ConnectorExpanded(
                status=status(name) if "status" in expand else None,
                info=info(name) if "info" in expand else None,
            ).model_dump(mode="json", by_alias=True, exclude_none=True)
            for name in runtime.list()
        }
        return json_response(expanded)

    async def create(request: web.Request) -> web.Response:
        body = await read_body(request, CreateConnectorRequest)
        created = await runtime.create(body.name, body.config)
        return json_response(
            ConnectorInfoResponse.model_validate(created, from_attributes=True), 201
        )

    async def get(request: web.Request) -> web.Response:
        return json_response(info(request.match_info["name"]))

    async def get_status(request: web.Request) -> web.Response:
        return json_response(status(request.match_info["name"]), exclude_none=True)

    async def get_config(request: web.Request) -> web.Response:
        return json_response(runtime.config(request.match_info["name"]))

    async def put_config(request: web.Request) -> web.Response:
        name = request.match_info["name"]
        body = await read_body(request, ConnectorConfigBody)
        # Kafka Connect semantics: PUT creates the connector when it does not exist yet,
        # which makes deployment scripts idempotent.
        try:
            updated = await runtime.update_config(name, body.root)
        except ConnectorNotFoundError:
            created = await runtime.create(name, body.root)
            return json_response(
                ConnectorInfoResponse.model_validate(created, from_attributes=True), 201
            )
        return json_response(ConnectorInfoResponse.model_validate(updated, from_attributes=True))

    async def pause(request: web.Request) -> web.Response:
        await runtime.pause(request.match_info["name"])
        return web.Response(status=202)

    async def resume(request: web.Request) -> web.Response:
        await runtime.resume(request.match_info["name"])
        return web.Response(status=202)

    async def restart(request: web.Request) -> web.Response:
        name = request.match_info["name"]
        only_failed = _flag(request, "onlyFailed")
        include_tasks = _flag(request, "includeTasks")
        await runtime.restart(name, only_failed=only_failed)
        if only_failed or include_tasks:
            # Kafka Connect answers the extended form with 202 and the status.
            return json_response(status(name), 202, exclude_none=True)
        return web.Response(status=204)

    async def delete(request: web.Request) -> web.Response:
        await runtime.delete(request.match_info["name"])
        return web.Response(status=204)

    async def plugins(_request: web.Request) -> web.Response:
        return json_response([
            PluginResponse(
                class_=p.name, version=p.version, class_path=p.class_path,
                source_system=p.source_system, description=p.description,
            ).model_dump(mode="json", by_alias=True)
            for p in runtime.plugins()
        ])

    async def validate(request: web.Request) -> web.Response:
        body = await read_body(request, ConnectorConfigBody)
        result = runtime.validate(request.match_info["plugin"], body.root)
        return json_response(ConfigInfosResponse.model_validate(result, from_attributes=True))

    named = "/connectors/{name}"
    return [
        Operation("GET", "/connectors", list_connectors, "List connector names", {
            200: Body("Names, or with `expand` a map of name to status and/or info.",
                      list[str] | dict[str, ConnectorExpanded]),
            400: _E400,
        }, query=(QueryParameter("expand", "status and/or info", repeated=True,
                                 schema={"enum": list(_EXPANDS)}),), tags=_TAG),
        Operation("POST", "/connectors", create, "Create a connector and start it", {
            201: Body("Created.", ConnectorInfoResponse),
            400: _E400, 404: _E404, 409: _E409,
        }, request=CreateConnectorRequest, tags=_TAG),
        Operation("GET", named, get, "A connector's config and tasks", {
            200: Body("The connector.", ConnectorInfoResponse), 404: _E404,
        }, tags=_TAG),
        Operation("DELETE", named, delete, "Stop and delete a connector", {
            204: Body("Deleted; its source position is kept."), 404: _E404,
        }, tags=_TAG),
        Operation("GET", f"{named}/status", get_status, "A connector's state", {
            200: Body("RUNNING, PAUSED, FAILED or UNASSIGNED, per connector and task.",
                      ConnectorStatusResponse),
            404: _E404,
        }, tags=_TAG),
        Operation("GET", f"{named}/config", get_config, "A connector's config", {
            200: Body("The flat config as submitted; every secret key of the plugin shows "
                      "as [hidden].", ConnectorConfigBody), 404: _E404,
        }, tags=_TAG),
        Operation("PUT", f"{named}/config", put_config, "Replace (or create) a config", {
            200: Body("Updated; a running connector restarted with it. A secret key given "
                      "as [hidden] keeps its stored value.", ConnectorInfoResponse),
            201: Body("Created.", ConnectorInfoResponse),
            400: _E400, 404: _E404,
        }, request=ConnectorConfigBody, tags=_TAG),
        Operation("PUT", f"{named}/pause", pause, "Pause a connector", {
            202: Body("Paused; stays paused across gateway restarts."), 404: _E404,
        }, tags=_TAG),
        Operation("PUT", f"{named}/resume", resume, "Resume a paused connector", {
            202: Body("Resumed from its committed position."), 404: _E404,
        }, tags=_TAG),
        Operation("POST", f"{named}/restart", restart, "Restart a connector", {
            204: Body("Restarted (a paused connector stays paused)."),
            202: Body("With includeTasks or onlyFailed: the status after the restart.",
                      ConnectorStatusResponse),
            400: Body("A query flag that is not true or false.", ErrorResponse),
            404: _E404,
        }, query=(
            QueryParameter("includeTasks", "Kafka Connect compatibility; one task always",
                           "boolean"),
            QueryParameter("onlyFailed", "restart only if FAILED", "boolean"),
        ), tags=_TAG),
        Operation("GET", "/connector-plugins", plugins, "Installed connector plugins", {
            200: Body("Every usable plugin.", list[PluginResponse]),
        }, tags=("connector-plugins",)),
        Operation("PUT", "/connector-plugins/{plugin}/config/validate", validate,
                  "Validate a config for a plugin", {
            200: Body("Each key's definition, value and errors.", ConfigInfosResponse),
            400: _E400, 404: _E404,
        }, request=ConnectorConfigBody, tags=("connector-plugins",)),
    ]


def _flag(request: web.Request, name: str) -> bool:
    value = request.query.get(name, "false").lower()
    if value not in ("true", "false"):
        raise ConfigError("invalid query", (FieldProblem(name, "must be true or false"),))
    return value == "true"
