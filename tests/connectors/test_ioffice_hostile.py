"""The iOffice poller against a hostile or broken source: oversized answers, pages with
more items than asked, redirects elsewhere, a source that ignores paging. The connector
stays RUNNING, sends its credentials nowhere else, and the next good page gets through."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from typing import Any

import orjson
import pytest
from aiohttp import web

from connectors._http_server import HttpServer
from connectors.ioffice import IOfficeConnector
from devkit.simulators._synthetic import ICT
from devkit.simulators.ioffice import IOfficeSimulator
from gateway.connect.discovery import parse_config
from gateway.errors import ConfigError
from gateway.testing.rig import Rig

T0 = datetime(2025, 8, 1, 8, 0, tzinfo=ICT)
TOKEN = "ioffice-test-token-0123456789"

Answer = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Source:
    """A scripted iOffice: each request takes the next answer (the last one repeats)."""

    def __init__(self, answers: list[Answer]) -> None:
        self.answers = answers
        self.seen: list[web.Request] = []
        app = web.Application()
        app.router.add_get("/{tail:.*}", self._handle)
        self.server = HttpServer(app, "127.0.0.1", 0, what="scripted iOffice")

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.seen.append(request)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        return await answer(request)

    @property
    def url(self) -> str:
        return self.server.url


@contextlib.asynccontextmanager
async def serving(*answers: Answer) -> AsyncIterator[Source]:
    source = Source(list(answers))
    await source.server.start()
    try:
        yield source
    finally:
        await source.server.stop()


def _docs(count: int) -> list[dict[str, Any]]:
    return IOfficeSimulator(seed=5).generate(count, modified_at=T0)


def page(items: list[dict[str, Any]], *, total_pages: int = 1) -> Answer:
    async def answer(request: web.Request) -> web.StreamResponse:
        number = int(request.query.get("page", "1"))
        body = orjson.dumps({"items": items, "page": number, "page_size": 5,
                             "total_pages": total_pages})
        return web.Response(body=body, content_type="application/json")
    return answer


def huge(*, chunked: bool) -> Answer:
    async def answer(request: web.Request) -> web.StreamResponse:
        blob = b'{"items": [], "pad": "' + b"x" * (2 * 1024 * 1024) + b'"}'
        if not chunked:
            return web.Response(body=blob, content_type="application/json")
        resp = web.StreamResponse(headers={"Content-Type": "application/json"})
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        for at in range(0, len(blob), 65536):
            await resp.write(blob[at:at + 65536])
        await resp.write_eof()
        return resp
    return answer


def redirect(to: str) -> Answer:
    async def answer(_request: web.Request) -> web.StreamResponse:
        raise web.HTTPFound(to + "/api/v1/documents")
    return answer


def _config(url: str, **overrides: Any) -> dict[str, Any]:
    return {"connector.class": "ioffice", "source.agency.code": "000.00.00.H12",
            "api.url": url, "api.auth.type": "bearer", "api.token": TOKEN,
            "poll.interval.ms": 100, "retry.backoff.max.ms": 200, "page.size": 5,
            "response.max.bytes": 1024 * 1024, **overrides}


@pytest.mark.integration
async def test_bad_answers_are_refused_and_the_next_good_page_gets_through(rig: Rig) -> None:
    docs = _docs(3)
    async with serving(page([])) as elsewhere, serving(
        huge(chunked=False), huge(chunked=True), page(_docs(6)), redirect(elsewhere.url),
        page(docs),
    ) as source, rig.running(IOfficeConnector, _config(source.url), name="io") as running:
        found = await rig.wait_published("io", 3, running=running)
        running.assert_running()
        assert len(source.seen) >= 5
        # The redirect was not followed: the other host never saw a request (nor the token).
        assert elsewhere.seen == []
    assert sorted(p.envelope.business_key for p in found) == sorted(
        d["document_id"] for d in docs)
    assert {r.headers.get("Authorization") for r in source.seen} == {f"Bearer {TOKEN}"}


@pytest.mark.integration
async def test_a_source_that_ignores_paging_is_backed_off_from(rig: Rig) -> None:
    docs = _docs(2)
    # Every page number answers the same two documents and claims a million pages.
    async with serving(page(docs, total_pages=1_000_000)) as source, rig.running(
            IOfficeConnector, _config(source.url, **{"poll.max.pages": 4,
                                                     "retry.backoff.max.ms": 5000}),
            name="io") as running:
        await rig.wait_published("io", 2, running=running)
        await asyncio.sleep(1.5)
        running.assert_running()
        # Bounded: 4 pages a poll, then pauses of 0.1, 0.2, 0.4, 0.8 s... Unbounded, the
        # loop would have asked thousands of times by now.
        asked = len(source.seen)
        assert 8 <= asked <= 40, asked
        # The source mends its ways: the next new document gets through.
        source.answers[:] = [page([*docs, _newer()])]
        found = await rig.wait_published("io", 3, running=running)
    assert len(found) == 3
    assert any(p.payload["modified_at"] == T0.replace(hour=9) for p in found)


def _newer() -> dict[str, Any]:
    return IOfficeSimulator(seed=9).generate(1, modified_at=T0.replace(hour=9))[0]


@pytest.mark.parametrize(("url", "ok"), [
    ("https://ioffice.camau.gov.vn", True),
    ("http://127.0.0.1:8080", True),
    ("http://127.8.0.1:8080", True),
    ("http://localhost:8080", True),
    ("http://[::1]:8080", True),
    ("http://ioffice.camau.gov.vn", False),
    ("http://10.0.0.5", False),
])
def test_https_is_required_unless_the_host_is_loopback(url: str, ok: bool) -> None:
    config = _config(url)
    if ok:
        parse_config("io", IOfficeConnector, config)
    else:
        with pytest.raises(ConfigError, match=r"api\.url: .*must be https:// unless"):
            parse_config("io", IOfficeConnector, config)
