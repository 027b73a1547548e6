"""`/healthz`, `/readyz` and `/metrics`: what orchestrators and Prometheus poll."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from aiohttp import web

from gateway.admin.models import ErrorResponse, HealthResponse
from gateway.admin.operations import Body, Operation, json_response
from gateway.metrics import GATEWAY, render

__all__ = ["METRICS_CONTENT_TYPE", "ReadinessCheck", "ServingFlag", "health_operations",
           "metrics_app"]

ReadinessCheck = Callable[[], Sequence[str]]
"""Returns why the process is not ready (e.g. "Kafka not connected"); empty when ready."""

# The Prometheus text format the registry renders, named explicitly: newer clients
# default their constant to a format version older scrapers do not know.
METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


@dataclass(slots=True)
class ServingFlag:
    """Whether the admin server accepts work; cleared first on shutdown."""

    serving: bool = False


def health_operations(readiness: ReadinessCheck, flag: ServingFlag) -> list[Operation]:
    """Liveness, readiness and metrics operations."""

    async def healthz(_request: web.Request) -> web.Response:
        return json_response(HealthResponse(status="ok"))

    async def readyz(_request: web.Request) -> web.Response:
        reasons = [] if flag.serving else ["admin server is not serving"]
        reasons.extend(readiness())
        if reasons:
            return json_response(
                ErrorResponse(error_code=503, message="not ready: " + "; ".join(reasons)), 503
            )
        return json_response(HealthResponse(status="ready"))

    tags = ("operations",)
    metrics = _metrics
    return [
        Operation("GET", "/healthz", healthz, "Liveness", {
            200: Body("The process runs.", HealthResponse),
        }, tags=tags),
        Operation("GET", "/readyz", readyz, "Readiness", {
            200: Body("Connected to Kafka and serving.", HealthResponse),
            503: Body("Not ready; the message says why.", ErrorResponse),
        }, tags=tags),
        Operation("GET", "/metrics", metrics, "Prometheus metrics", {
            200: Body("Text exposition format.", None, "text/plain"),
        }, tags=tags),
    ]


async def _metrics(_request: web.Request) -> web.Response:
    return web.Response(body=render(GATEWAY), headers={"Content-Type": METRICS_CONTENT_TYPE})


def metrics_app() -> web.Application:
    """Only `GET /metrics`: what the separate metrics port (LGSP_METRICS_PORT) serves."""
    app = web.Application()
    app.add_routes([web.get("/metrics", _metrics)])
    return app
