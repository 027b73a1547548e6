"""A simulated iOffice: the document API the `ioffice` connector polls, with live traffic.

Routes (JSON):
- `GET  /api/v1/documents?modified_since=&page=&page_size=`: the listing the connector reads.
- `POST /api/v1/documents/generate {"count": n, "modified_at": ISO?}`: add n documents now
  (all stamped `modified_at` when given, to build equal-timestamp groups).
- `POST /api/v1/documents/{id}/touch`: change a document (new `modified_at`).
- `PUT  /api/v1/faults {"fail_requests": n, "status": 503}`: fail the next n listings.
- `GET  /api/v1/stats`: documents, generated, modified, requests, failed_requests.
"""

from __future__ import annotations

import asyncio
import bisect
import hashlib
import hmac
import math
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from typing import Any

from aiohttp import web
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from connectors._http_server import HttpServer
from devkit.simulators._synthetic import Synthetic, now_ms
from gateway.logs import get_logger
from gateway.settings import problems_from

log = get_logger(__name__)

_TYPES = (("CV", 0.45), ("QD", 0.2), ("TB", 0.12), ("BC", 0.13), ("KH", 0.1))
_SUBJECTS = (
    "Về việc triển khai Đề án 06 trên địa bàn tỉnh",
    "Về việc báo cáo tình hình kinh tế - xã hội tháng {m}",
    "Về việc tăng cường công tác phòng, chống thiên tai",
    "Về việc kiện toàn Ban Chỉ đạo chuyển đổi số",
    "Về việc sắp xếp đơn vị hành chính cấp xã",
    "Về việc chuyển giao hồ sơ, dữ liệu sau hợp nhất tỉnh",
    "Về việc giải quyết thủ tục hành chính trực tuyến toàn trình",
    "Về việc tổ chức hội nghị sơ kết {m} tháng",
    "Về việc bảo đảm an toàn thông tin mạng",
)
_POSITIONS = ("Chủ tịch", "Phó Chủ tịch", "Giám đốc", "Phó Giám đốc", "Chánh Văn phòng")
_ISSUERS = ("UBND", "VP", "STTTT", "SNV", "STNMT", "SKHĐT")
_MIME = (("pdf", "application/pdf"),
         ("docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
         ("xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))


@dataclass(frozen=True, slots=True)
class SimulatorStats:
    """What the simulated iOffice has served so far."""

    documents: int
    generated: int
    modified: int
    requests: int
    failed_requests: int


class _GenerateBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    count: int = Field(ge=1, le=100_000)
    modified_at: AwareDatetime | None = None


class _FaultsBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    fail_requests: int = Field(ge=0)
    status: int = Field(default=503, ge=400, le=599)


class IOfficeSimulator:
    """A real HTTP server playing iOffice; `start` binds (port 0 picks a free one).

    `rate` documents per second are added in the background until `count` have been
    added (`count` None: forever); `modify_share` of those ticks change an existing
    document instead, as officers edit documents in the real system. `token`, when set,
    must come as `Authorization: Bearer <token>` or `X-API-Key: <token>`.
    """

    def __init__(
        self, host: str = "127.0.0.1", port: int = 0, *, seed: int | None = None,
        token: str | None = None, rate: float = 0.0, count: int | None = None,
        modify_share: float = 0.0,
    ) -> None:
        self._syn = Synthetic(seed)
        self._token = token
        self._rate = rate
        self._count = count
        self._modify_share = modify_share
        self._docs: dict[str, dict[str, Any]] = {}
        # Sorted (modified_at, document_id): the API's order, kept by insertion.
        self._order: list[tuple[datetime, str]] = []
        self._seq = 0
        self._generated = 0
        self._modified = 0
        self._requests = 0
        self._failed = 0
        self._fail_next = 0
        self._fail_status = 503
        self._task: asyncio.Task[None] | None = None
        app = web.Application()
        app.add_routes([
            web.get("/api/v1/documents", self._list),
            web.post("/api/v1/documents/generate", self._generate),
            web.post("/api/v1/documents/{document_id}/touch", self._touch),
            web.put("/api/v1/faults", self._faults),
            web.get("/api/v1/stats", self._stats),
        ])
        self._server = HttpServer(app, host, port, what="iOffice simulator")

    @property
    def port(self) -> int:
        """The bound port."""
        return self._server.port

    @property
    def url(self) -> str:
        """Base URL, the connector's `api.url`."""
        return self._server.url

    @property
    def stats(self) -> SimulatorStats:
        """Counters since start."""
        return SimulatorStats(len(self._docs), self._generated, self._modified,
                              self._requests, self._failed)

    async def start(self) -> None:
        """Bind the server and start background traffic when a rate is set."""
        await self._server.start()
        if self._rate > 0:
            self._task = asyncio.create_task(self._traffic(), name="ioffice-sim-traffic")
        log.info("ioffice_simulator_started", url=self.url, rate=self._rate, count=self._count)

    async def stop(self) -> None:
        """Stop background traffic, then the server."""
        task, self._task = self._task, None
        if task is not None:
            await _cancel(task)
        await self._server.stop()

    async def wait_generated(self) -> None:
        """Return once the background traffic has added its `count` documents."""
        if self._task is not None:
            await asyncio.shield(self._task)

    def generate(self, count: int, *, modified_at: datetime | None = None) -> list[dict[str, Any]]:
        """Add `count` new documents now; all share `modified_at` when given."""
        stamp = modified_at or now_ms()
        docs = [self._new_document(stamp) for _ in range(count)]
        for doc in docs:
            self._put(doc, stamp)
        self._generated += count
        return docs

    def touch(self, document_id: str, *, modified_at: datetime | None = None) -> dict[str, Any]:
        """Change a document: it gets a new `modified_at` and moves to the end of the order."""
        doc = self._docs[document_id]
        old = datetime.fromisoformat(doc["modified_at"])
        self._order.pop(bisect.bisect_left(self._order, (old, document_id)))
        stamp = modified_at or now_ms()
        doc["subject"] = doc["subject"].removesuffix(" (sửa đổi)") + " (sửa đổi)"
        self._put(doc, stamp)
        self._modified += 1
        return doc

    def fail_next(self, requests: int, status: int = 503) -> None:
        """Answer the next `requests` listings with `status` (an outage for the connector)."""
        self._fail_next, self._fail_status = requests, status

    def _put(self, doc: dict[str, Any], stamp: datetime) -> None:
        doc["modified_at"] = stamp.isoformat(timespec="milliseconds")
        self._docs[doc["document_id"]] = doc
        bisect.insort(self._order, (stamp, doc["document_id"]))

    def _new_document(self, stamp: datetime) -> dict[str, Any]:
        rng = self._syn.rng
        self._seq += 1
        doc_id = f"VB{self._seq:08d}"
        kind = rng.choices([t for t, _ in _TYPES], [w for _, w in _TYPES])[0]
        issuer = rng.choice(_ISSUERS)
        number_symbol = (f"{rng.randint(1, 3000)}/{issuer}-VP" if kind == "CV"
                         else f"{rng.randint(1, 3000)}/{kind}-{issuer}")
        signed: date = stamp.date() - timedelta(days=rng.randint(0, 5))
        return {
            "document_id": doc_id,
            "direction": "INCOMING" if rng.random() < 0.6 else "OUTGOING",
            "number_symbol": number_symbol,
            "issuing_agency_code": self._syn.agency_code(),
            "recipient_agency_codes": [self._syn.agency_code() for _ in range(rng.randint(1, 3))],
            "subject": rng.choice(_SUBJECTS).format(m=stamp.month),
            "document_type": kind,
            "urgency": rng.choices(["NORMAL", "URGENT", "VERY_URGENT", "FLASH"],
                                   [0.8, 0.12, 0.06, 0.02])[0],
            "security_level": rng.choices(["NORMAL", "CONFIDENTIAL"], [0.95, 0.05])[0],
            "signed_date": signed.isoformat(),
            "signer": {"full_name": self._syn.person_name(), "position": rng.choice(_POSITIONS)},
            "due_date": ((signed + timedelta(days=rng.randint(5, 30))).isoformat()
                         if rng.random() < 0.3 else None),
            "response_for": (f"VB{rng.randint(1, self._seq - 1):08d}"
                             if self._seq > 1 and rng.random() < 0.2 else None),
            "attachments": [self._attachment(doc_id, i) for i in range(rng.randint(0, 3))],
        }

    def _attachment(self, doc_id: str, index: int) -> dict[str, Any]:
        rng = self._syn.rng
        ext, mime = rng.choice(_MIME)
        content = b"%PDF-1.7\n" if ext == "pdf" else b"PK\x03\x04"
        content += rng.randbytes(rng.randint(200, 4000))
        return {"file_name": f"{doc_id}_{index + 1}.{ext}", "mime_type": mime,
                "size_bytes": len(content), "sha256": hashlib.sha256(content).hexdigest()}

    async def _traffic(self) -> None:
        tick = max(1.0 / self._rate, 0.01)
        budget = 0.0
        added = 0
        loop = asyncio.get_running_loop()
        last = loop.time()
        while self._count is None or added < self._count:
            await asyncio.sleep(tick)
            now = loop.time()
            budget += (now - last) * self._rate
            last = now
            due = int(budget)
            budget -= due
            if self._count is not None:
                due = min(due, self._count - added)
            for _ in range(due):
                if self._seq and self._syn.rng.random() < self._modify_share:
                    self.touch(f"VB{self._syn.rng.randint(1, self._seq):08d}")
                else:
                    self.generate(1)
                    added += 1

    def _authorized(self, request: web.Request) -> bool:
        if self._token is None:
            return True
        offered = request.headers.get("X-API-Key") or request.headers.get(
            "Authorization", "").removeprefix("Bearer ")
        return hmac.compare_digest(offered.encode(), self._token.encode())

    async def _list(self, request: web.Request) -> web.Response:
        self._requests += 1
        if not self._authorized(request):
            return _error(401, "missing or wrong credentials")
        if self._fail_next > 0:
            self._fail_next -= 1
            self._failed += 1
            return _error(self._fail_status, "simulated outage")
        query = request.query
        try:
            page = int(query.get("page", "1"))
            size = int(query.get("page_size", "100"))
            since_raw = query.get("modified_since")
            since = datetime.fromisoformat(since_raw) if since_raw else None
        except ValueError:
            return _error(400, "page, page_size and modified_since must be int, int, ISO 8601")
        if page < 1 or not 1 <= size <= 1000 or (since is not None and since.tzinfo is None):
            return _error(400, "page >= 1, 1 <= page_size <= 1000, modified_since with offset")
        start = 0 if since is None else bisect.bisect_left(self._order, (since, ""))
        matching = len(self._order) - start
        first = start + (page - 1) * size
        keys = self._order[first:min(first + size, len(self._order))]
        return web.json_response({
            "items": [self._docs[doc_id] for _, doc_id in keys],
            "page": page, "page_size": size, "total_pages": math.ceil(matching / size),
        })

    async def _generate(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return _error(401, "missing or wrong credentials")
        try:
            body = _GenerateBody.model_validate_json(await request.read())
        except ValidationError as exc:
            return _error(400, "; ".join(str(p) for p in problems_from(exc)))
        docs = self.generate(body.count, modified_at=body.modified_at)
        return web.json_response({"generated": len(docs),
                                  "document_ids": [d["document_id"] for d in docs]})

    async def _touch(self, request: web.Request) -> web.Response:
        doc_id = request.match_info["document_id"]
        if doc_id not in self._docs:
            return _error(404, f"no document {doc_id}")
        return web.json_response(self.touch(doc_id))

    async def _faults(self, request: web.Request) -> web.Response:
        try:
            body = _FaultsBody.model_validate_json(await request.read())
        except ValidationError as exc:
            return _error(400, "; ".join(str(p) for p in problems_from(exc)))
        self.fail_next(body.fail_requests, body.status)
        return web.json_response({"fail_requests": body.fail_requests, "status": body.status})

    async def _stats(self, _request: web.Request) -> web.Response:
        return web.json_response(asdict(self.stats))


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


async def _cancel(task: asyncio.Task[None]) -> None:
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        # Only the task's own cancellation is expected; ours must propagate.
        current = asyncio.current_task()
        if current is not None and current.cancelling():
            raise
