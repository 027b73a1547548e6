"""The gateway's admin REST API (aiohttp), modelled on Kafka Connect's REST API.

Paths: `GET/POST /connectors`, `GET/DELETE /connectors/{name}`,
`GET /connectors/{name}/status`, `GET/PUT /connectors/{name}/config`,
`PUT /connectors/{name}/pause|resume`, `POST /connectors/{name}/restart`,
`GET /connector-plugins`, `PUT /connector-plugins/{plugin}/config/validate`, plus
`/metrics`, `/healthz`, `/readyz` and `/openapi.json` on the same server.

Extending it: build `Operation`s (handler + documentation) and pass them as
`extra_routes` to `build_admin_app`, or, inside the gateway process, give a service a
`routes()` method returning them (see `gateway.app.RouteProvider`).
"""

from gateway.admin.errors import status_for
from gateway.admin.health import METRICS_CONTENT_TYPE, ReadinessCheck, metrics_app
from gateway.admin.openapi import build_openapi
from gateway.admin.operations import (
    Body,
    Handler,
    Operation,
    QueryParameter,
    json_response,
    read_body,
)
from gateway.admin.server import SERVING, AdminServer, RouteSpec, build_admin_app

__all__ = [
    "METRICS_CONTENT_TYPE",
    "SERVING",
    "AdminServer",
    "Body",
    "Handler",
    "Operation",
    "QueryParameter",
    "ReadinessCheck",
    "RouteSpec",
    "build_admin_app",
    "build_openapi",
    "json_response",
    "metrics_app",
    "read_body",
    "status_for",
]
