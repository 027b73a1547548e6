"""The operator face of the stub: stats, faults, catalogue, health and metrics."""

from __future__ import annotations

__all__ = ["AdminRoutes"]

import orjson
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST
from pydantic import ValidationError

from devkit.stub.faults import Faults, FaultsUpdate
from devkit.stub.intake import refusal
from devkit.stub.responses import json_response
from devkit.stub.stats import Stats
from devkit.stub.store import IdempotencyStore
from gateway.logs import get_logger
from gateway.metrics import STUB, render
from gateway.ndxp.catalogue import Catalogue
from gateway.ndxp.wire import (
    FAULTS_PATH,
    HEALTHZ_PATH,
    METRICS_PATH,
    READYZ_PATH,
    SERVICES_PATH,
    STATS_PATH,
    ResultCode,
)
from gateway.settings import problems_from

_log = get_logger(__name__)


class AdminRoutes:
    """Handlers that observe and steer the stub rather than exchange data."""

    def __init__(
        self, store: IdempotencyStore, stats: Stats, faults: Faults, catalogue: Catalogue
    ) -> None:
        # The catalogue never changes while the stub runs: serialise it once.
        self._services_body = orjson.dumps(
            {"services": [service.as_json() for service in catalogue]})
        self._store = store
        self._stats = stats
        self._faults = faults

    def add_to(self, app: web.Application) -> None:
        """Register the routes on the stub's application."""
        app.router.add_get(STATS_PATH, self.stats)
        app.router.add_get(FAULTS_PATH, self.get_faults)
        app.router.add_put(FAULTS_PATH, self.put_faults)
        app.router.add_get(SERVICES_PATH, self.services)
        app.router.add_get(HEALTHZ_PATH, self.healthz)
        app.router.add_get(READYZ_PATH, self.readyz)
        app.router.add_get(METRICS_PATH, self.metrics)

    async def stats(self, _request: web.Request) -> web.Response:
        """Counts of received, unique, duplicate and rejected transactions."""
        return json_response(200, self._stats.snapshot())

    async def get_faults(self, _request: web.Request) -> web.Response:
        """The faults currently injected."""
        return json_response(200, self._faults.as_json())

    async def put_faults(self, request: web.Request) -> web.Response:
        """Change some or all faults; answers with the faults now in force."""
        try:
            update = FaultsUpdate.model_validate_json(await request.read())
        except ValidationError as exc:
            detail = "; ".join(str(problem) for problem in problems_from(exc))
            answer = refusal(ResultCode.DATA_INCORRECT, f"invalid faults: {detail}")
            return json_response(answer.status, answer.body)
        self._faults.apply(update)
        _log.info("stub faults changed", **self._faults.as_json())
        return json_response(200, self._faults.as_json())

    async def services(self, _request: web.Request) -> web.Response:
        """The catalogue of national services."""
        return web.Response(body=self._services_body, content_type="application/json")

    async def healthz(self, _request: web.Request) -> web.Response:
        """Alive: the process answers HTTP."""
        return json_response(200, {"status": "ok"})

    async def readyz(self, _request: web.Request) -> web.Response:
        """Ready once the idempotency journal is loaded, and not while faulted `down`."""
        if not self._store.loaded:
            return json_response(503, {"status": self._store.state})
        if self._faults.down:
            return json_response(503, {"status": "down"})
        return json_response(200, {"status": "ready"})

    async def metrics(self, _request: web.Request) -> web.Response:
        """Prometheus text exposition of the stub's registry."""
        return web.Response(body=render(STUB), headers={"Content-Type": CONTENT_TYPE_LATEST})
