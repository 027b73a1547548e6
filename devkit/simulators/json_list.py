"""A simple provincial system that lists its records as JSON: a commune report portal.

The kind of system the `rest-poll` connector is for: no webhook, no export folder, one
listing endpoint paged by a change sequence number. Its field names are its own, so a
connector config has to map them to `reporting.report_submission`.

Routes (JSON):
- `GET  /api/v2/submissions?after=<seq>&limit=<n>`: `{"data": [...], "has_more": bool}`,
  records with `seq` greater than `after`, in `seq` order.
- `POST /api/v2/submissions/generate {"count": n}`: add n submissions now.
- `GET  /api/v2/stats`: `{"records": n, "requests": n}`.

`token`, when set, must come as `Authorization: Bearer <token>`.
"""

from __future__ import annotations

__all__ = ["ReportPortalSimulator", "portal_connector_config"]

import hmac
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from connectors._http_server import HttpServer
from devkit.simulators._synthetic import Synthetic
from gateway.logs import get_logger

log = get_logger(__name__)

_FORMS = ("BC-KTXH-THANG", "BC-DANSO-QUY", "BC-CCHC-QUY", "BC-THIENTAI")
_INDICATORS = (("DAN_SO", "người"), ("HO_NGHEO", "hộ"), ("HO_SO_TTHC", "hồ sơ"),
               ("THU_NGAN_SACH", "triệu đồng"))
_MAX_LIMIT = 1000


class ReportPortalSimulator:
    """A real HTTP server playing the portal; `start` binds (port 0 picks a free one)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, seed: int | None = None,
                 token: str | None = None) -> None:
        self._syn = Synthetic(seed)
        self._token = token
        self._records: list[dict[str, Any]] = []
        self._requests = 0
        app = web.Application()
        app.add_routes([
            web.get("/api/v2/submissions", self._list),
            web.post("/api/v2/submissions/generate", self._generate),
            web.get("/api/v2/stats", self._stats),
        ])
        self._server = HttpServer(app, host, port, what="report portal simulator")

    @property
    def url(self) -> str:
        """Base URL of the server."""
        return self._server.url

    @property
    def list_url(self) -> str:
        """The listing endpoint: the connector's `api.url`."""
        return f"{self.url}/api/v2/submissions"

    @property
    def records(self) -> list[dict[str, Any]]:
        """Every record served so far, in `seq` order."""
        return list(self._records)

    async def start(self) -> None:
        """Bind the server."""
        await self._server.start()
        log.info("report_portal_simulator_started", url=self.url)

    async def stop(self) -> None:
        """Stop the server."""
        await self._server.stop()

    def generate(self, count: int) -> list[dict[str, Any]]:
        """Add `count` new submissions now."""
        rng = self._syn.rng
        now = datetime.now(UTC)
        made: list[dict[str, Any]] = []
        for _ in range(count):
            seq = len(self._records) + len(made) + 1
            commune = self._syn.commune_code()
            made.append({
                "id": f"RP-{seq:07d}",
                "seq": seq,
                "form": rng.choice(_FORMS),
                "period": {"kind": "MONTH", "year": now.year, "number": now.month},
                "commune": commune,
                "sent_at": now.isoformat(timespec="milliseconds"),
                "indicators": [{"code": code, "value": float(rng.randint(1, 50_000)),
                                "unit": unit} for code, unit in _INDICATORS],
            })
        self._records.extend(made)
        return made

    async def _list(self, request: web.Request) -> web.Response:
        self._requests += 1
        if self._token is not None:
            given = request.headers.get("Authorization", "")
            if not hmac.compare_digest(given.encode(), f"Bearer {self._token}".encode()):
                return web.json_response({"error": "unauthorized"}, status=401)
        try:
            after = int(request.query.get("after", "0"))
            limit = min(int(request.query.get("limit", "100")), _MAX_LIMIT)
        except ValueError:
            return web.json_response({"error": "after and limit are integers"}, status=400)
        if limit < 1:
            return web.json_response({"error": "limit must be at least 1"}, status=400)
        # seq is 1-based and dense: records after `after` start at index `after`.
        page = self._records[max(after, 0):max(after, 0) + limit]
        has_more = max(after, 0) + limit < len(self._records)
        return web.json_response({"data": page, "has_more": has_more})

    async def _generate(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
            count = int(body["count"])
        except (ValueError, KeyError, TypeError):
            return web.json_response({"error": 'body must be {"count": n}'}, status=400)
        if not 1 <= count <= 100_000:
            return web.json_response({"error": "count must be 1..100000"}, status=400)
        return web.json_response({"generated": len(self.generate(count))})

    async def _stats(self, _request: web.Request) -> web.Response:
        return web.json_response({"records": len(self._records), "requests": self._requests})


def portal_connector_config(list_url: str, agency_code: str,
                            token: str | None = None) -> dict[str, Any]:
    """A complete `rest-poll` config for the portal: JSON only, no code."""
    config: dict[str, Any] = {
        "connector.class": "rest-poll",
        "source.agency.code": agency_code,
        "api.url": list_url,
        "records.path": "data",
        "cursor.param": "after",
        "cursor.field": "seq",
        "page.size.param": "limit",
        "page.size": 25,
        "record.id.field": "id",
        "record.version.field": "seq",
        "business.key.field": "commune",
        "occurred.at.field": "sent_at",
        "message.type": "reporting.report_submission",
        "payload.mapping": {
            "report_code": "form",
            "period": "period",
            "reporting_unit_code": "commune",
            "submitted_at": "sent_at",
            "rows": "indicators",
            "source_file": "id",
        },
        "poll.interval.ms": 100,
    }
    if token is not None:
        config["api.token"] = token
    return config
