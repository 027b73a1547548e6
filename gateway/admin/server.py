"""The admin aiohttp application and the server that listens for it."""

from __future__ import annotations

from collections.abc import Sequence

from aiohttp import web

from gateway.admin.connectors import connector_operations
from gateway.admin.errors import error_middleware
from gateway.admin.health import ReadinessCheck, ServingFlag, health_operations
from gateway.admin.openapi import build_openapi
from gateway.admin.operations import Body, Operation, json_response
from gateway.admin.security import auth_middleware
from gateway.audit.event import AuditSink
from gateway.auth import Authenticator
from gateway.connect import ConnectorRuntime
from gateway.errors import ConfigError, WrongRoleError
from gateway.logs import get_logger

__all__ = ["SERVING", "AdminServer", "RouteSpec", "build_admin_app"]

RouteSpec = Operation | web.RouteDef
"""An extra route: an `Operation` (documented in OpenAPI) or a plain aiohttp `RouteDef`."""

SERVING = web.AppKey("lgsp_serving", ServingFlag)
"""The app's serving flag; `AdminServer` sets it once listening and clears it on stop."""

_log = get_logger(__name__)


def build_admin_app(
    runtime: ConnectorRuntime | None,
    readiness: ReadinessCheck,
    extra_routes: Sequence[RouteSpec] = (),
    *,
    authenticator: Authenticator,
    audit: AuditSink | None = None,
) -> web.Application:
    """The admin API: connectors, plugins, health, metrics, OpenAPI, plus `extra_routes`.

    Other parts of the gateway add endpoints by passing them here (the `Gateway` collects
    them from services that have a `routes()` method). Prefer `Operation` over a bare
    `web.RouteDef`: it puts request and response schemas into `/openapi.json`. Error
    handling is shared: raise a `GatewayError` and the client gets
    `{"error_code", "message"}` with the matching status.

    Every path but `/healthz`, `/readyz` and `/metrics` is checked by `authenticator`
    against the role table (gateway/auth/roles.py); changes go to `audit`.
    """
    flag = ServingFlag()
    operations = [
        *(connector_operations(runtime) if runtime is not None else ()),
        *health_operations(readiness, flag),
        *(r for r in extra_routes if isinstance(r, Operation)),
    ]
    bare = [r for r in extra_routes if isinstance(r, web.RouteDef)]
    if runtime is None:
        bare.extend(_connectors_elsewhere())
    document: dict[str, object] = {}

    async def openapi(_request: web.Request) -> web.Response:
        return json_response(document)

    operations.append(Operation("GET", "/openapi.json", openapi, "This OpenAPI document", {
        200: Body("OpenAPI 3.1 document.", None, "application/json"),
    }, tags=("operations",)))
    document.update(build_openapi(operations, bare))

    # Authentication outermost: it sees the status error_middleware made of any failure.
    app = web.Application(middlewares=[auth_middleware(authenticator, audit),
                                       error_middleware])
    app[SERVING] = flag
    app.add_routes([op.route() for op in operations])
    app.add_routes(bare)
    return app


class AdminServer:
    """Serves an admin app on host:port; `port=0` picks a free port (see `url`)."""

    def __init__(self, app: web.Application, host: str, port: int,
                 *, shutdown_timeout_s: float = 5.0, label: str = "admin API") -> None:
        self._app = app
        self._label = label
        if SERVING not in app:  # an app not made by build_admin_app
            app[SERVING] = ServingFlag()
        self._host = host
        self._port = port
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None,
                                     shutdown_timeout=shutdown_timeout_s)
        self._started = False

    @property
    def url(self) -> str:
        """Base URL of the API (loopback when bound to every interface)."""
        host = "127.0.0.1" if self._host in ("", "0.0.0.0") else self._host  # noqa: S104 - compared, not bound
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{self._port}"

    async def start(self) -> None:
        """Listen; ConfigError (one line) if the address cannot be bound."""
        await self._runner.setup()
        self._started = True
        site = web.TCPSite(self._runner, self._host, self._port)
        try:
            await site.start()
        except OSError as exc:
            await self.stop()
            raise ConfigError(
                f"{self._label} cannot listen on {self._host}:{self._port}: "
                f"{exc.strerror or exc}"
            ) from exc
        if self._port == 0:
            for address in self._runner.addresses:
                if isinstance(address, tuple):
                    self._port = int(address[1])
                    break
        self._app[SERVING].serving = True
        _log.info(f"{self._label} listening", url=self.url)

    async def stop(self) -> None:
        """Stop accepting, let in-flight requests finish (bounded), close."""
        self._app[SERVING].serving = False
        if self._started:
            self._started = False
            await self._runner.cleanup()

    def ready(self) -> bool:
        """Whether the server is serving."""
        return self._app[SERVING].serving


def _connectors_elsewhere() -> list[web.RouteDef]:
    """Connector paths on a gateway without the connectors role: a clear 409, not a 404."""

    async def elsewhere(_request: web.Request) -> web.StreamResponse:
        raise WrongRoleError(
            "this gateway does not run connectors (LGSP_ROLES excludes them); manage "
            "connectors through the gateway that runs the connectors role"
        )

    return [web.route("*", "/connectors{tail:.*}", elsewhere),
            web.route("*", "/connector-plugins{tail:.*}", elsewhere)]
