"""The admin API's door: every request but health and metrics shows a bearer token.

401 (with `WWW-Authenticate: Bearer`) when the credentials prove nothing, 403 naming the
role needed when they prove someone the role table does not allow. Each change (an
operation with an audit action in the role table) is handed to the audit trail with the
authenticated subject and the outcome, refusals for lack of a role included.
"""

from __future__ import annotations

__all__ = ["PRINCIPAL", "auth_middleware"]

import orjson
from aiohttp import web
from aiohttp.typedefs import Middleware

from gateway.admin.errors import error_response
from gateway.admin.operations import Handler
from gateway.audit.event import AuditEvent, AuditSink, Result
from gateway.auth import (
    PUBLIC_PATHS,
    Authenticator,
    Permission,
    Principal,
    permission_for,
    uses_session,
)
from gateway.errors import ForbiddenError, GatewayError, UnauthenticatedError
from gateway.logs import get_logger
from gateway.metrics import AUTH_REFUSALS

PRINCIPAL = web.RequestKey("lgsp_principal", Principal)
"""The authenticated caller of a request (absent on the public paths)."""
_log = get_logger(__name__)


def auth_middleware(authenticator: Authenticator, audit: AuditSink | None = None,
                    ) -> Middleware:
    """The middleware checking credentials and roles, and auditing changes."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path in PUBLIC_PATHS or uses_session(request.path):
            # The console checks its session cookie, CSRF and the role table itself.
            return await handler(request)
        principal = await _authenticate(authenticator, request)
        if isinstance(principal, web.Response):
            return principal
        request[PRINCIPAL] = principal
        match = request.match_info
        if match.http_exception is not None:  # 404 / 405: answered only to the known
            return await handler(request)
        resource = match.route.resource
        permission = permission_for(
            request.method, resource.canonical if resource is not None else request.path)
        try:
            authenticator.authorize(principal, permission)
        except ForbiddenError as exc:
            AUTH_REFUSALS.labels(status="403").inc()
            if permission.action is not None and audit is not None:
                await _audit(audit, request, principal, permission, denied=exc.message)
            return error_response(403, exc.message)
        response = await handler(request)
        if permission.action is not None and audit is not None:
            await _audit(audit, request, principal, permission, response=response)
        return response

    return middleware


async def _authenticate(authenticator: Authenticator,
                        request: web.Request) -> Principal | web.Response:
    """The caller, or the 401 (503 if the token store is unreadable) to answer."""
    try:
        return await authenticator.authenticate(request.headers.get("Authorization"))
    except UnauthenticatedError as exc:
        AUTH_REFUSALS.labels(status="401").inc()
        response = error_response(401, exc.message)
        response.headers["WWW-Authenticate"] = 'Bearer realm="lgsp"'
        return response
    except GatewayError as exc:  # fail closed
        _log.error("authentication failed", error=exc.message)
        return error_response(503, f"authentication is unavailable: {exc.message}")


async def _audit(audit: AuditSink, request: web.Request, principal: Principal,
                 permission: Permission, *, response: web.StreamResponse | None = None,
                 denied: str | None = None) -> None:
    assert permission.action is not None
    status = 403 if response is None else response.status
    if denied is not None:
        result, detail = Result.DENIED, denied
    elif status < 400:
        result, detail = Result.SUCCESS, None
    else:
        result, detail = Result.FAILURE, _message(response)
    event = AuditEvent(
        subject=principal.subject, action=permission.action,
        target=await _target(request, permission, response), client=_client(request),
        result=result, status=status, detail=detail)
    try:
        await audit(event)
    except GatewayError as exc:
        # The change is done and cannot be undone here; say so loudly (and in metrics).
        _log.error("change not audited", action=event.action, target=event.target,
                   subject=event.subject, error=exc.message)


async def _target(request: web.Request, permission: Permission,
                  response: web.StreamResponse | None) -> str:
    target = permission.target.format_map(dict(request.match_info))
    if permission.action == "connector.create":
        name = _body_name(await request.read())
        return f"connector {name}" if name else "connector"
    if permission.action == "replay.start" and response is not None:
        location = response.headers.get("Location", "")
        if location.startswith("/replays/"):
            return f"replay {location.removeprefix('/replays/')}"
        replay_id = _body_field(response, "replay", "replay_id")
        if replay_id:
            return f"replay {replay_id}"
    return target


def _body_name(raw: bytes) -> str | None:
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    name = body.get("name") if isinstance(body, dict) else None
    return name if isinstance(name, str) else None


def _body_field(response: web.StreamResponse, *path: str) -> str | None:
    value: object = _json(response)
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    return value if isinstance(value, str) else None


def _message(response: web.StreamResponse | None) -> str | None:
    body = _json(response)
    message = body.get("message") if isinstance(body, dict) else None
    return message if isinstance(message, str) else None


def _json(response: web.StreamResponse | None) -> object:
    if not isinstance(response, web.Response) or not isinstance(response.body, bytes):
        return None
    try:
        return orjson.loads(response.body)
    except orjson.JSONDecodeError:
        return None


def _client(request: web.Request) -> str:
    return f"api@{request.remote or 'unknown'}"
