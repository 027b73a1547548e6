"""The console's door on a real admin app (no broker needed): sign-in, cookie flags,
CSRF and role refusals, audit of refusals, a revoked token ending the session."""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from aiohttp import ClientResponse, web
from aiohttp.test_utils import TestClient, TestServer

from gateway.admin import build_admin_app
from gateway.admin.limits import ReadLimiter
from gateway.audit.event import AuditEvent, Result
from gateway.auth import Authenticator, Role, TokenStore
from gateway.console import ConsoleSources, install_console
from gateway.settings import AuthSettings, ConsoleSettings, Settings
from tests.auth.jose import AUDIENCE, ISSUER, ProvinceIdp


@dataclass
class World:
    client: TestClient[web.Request, web.Application]
    store: TokenStore
    audited: list[AuditEvent]
    origin: str


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    settings = Settings(state_dir=tmp_path / "state", port=0)
    async with _world(settings) as made:
        yield made


@pytest.fixture
async def idp_world(tmp_path: Path) -> AsyncIterator[tuple[World, ProvinceIdp]]:
    idp = ProvinceIdp(tmp_path)
    settings = Settings(state_dir=tmp_path / "state", port=0, auth=AuthSettings(
        jwks=str(idp.jwks_path), issuer=ISSUER, audience=AUDIENCE,
        roles_claim="realm_access.roles", leeway_s=0),
        console=ConsoleSettings(identity_provider_url="https://idp.example.gov.vn/token"))
    async with _world(settings) as made:
        yield made, idp


@contextlib.asynccontextmanager
async def _world(settings: Settings, reads: ReadLimiter | None = None
                 ) -> AsyncIterator[World]:
    authenticator = Authenticator.from_settings(settings)
    await authenticator.start()
    store = authenticator.store
    assert store is not None
    audited: list[AuditEvent] = []

    async def audit(event: AuditEvent) -> None:
        audited.append(event)

    app = build_admin_app(None, list, authenticator=authenticator, audit=audit)
    await install_console(app, ConsoleSources(
        settings=settings, authenticator=authenticator, audit=audit, runtime=None,
        index=None, replay=None, tracer=None, router_here=False,
        reads=reads or ReadLimiter.of(settings)))
    client = TestClient(TestServer(app))
    await client.start_server()
    try:
        yield World(client, store, audited, str(client.make_url("")).rstrip("/"))
    finally:
        await client.close()


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "no CSRF token on the page"
    return found.group(1)


async def _sign_in(world: World, token: str) -> ClientResponse:
    return await world.client.post(
        "/console/sign-in", data={"token": token, "next": "/console/"},
        headers={"Origin": world.origin}, allow_redirects=False)


async def test_signed_out_visitors_go_to_the_sign_in_page(world: World) -> None:
    bare = await world.client.get("/console", allow_redirects=False)
    assert (bare.status, bare.headers["Location"]) == (308, "/console/")
    home = await world.client.get("/console/dead-letters?x=1", allow_redirects=False)
    assert home.status == 303
    location = urlsplit(home.headers["Location"])
    assert location.path == "/console/sign-in"
    assert parse_qs(location.query) == {"next": ["/console/dead-letters?x=1"]}
    form = await world.client.get("/console/sign-in")
    html = await form.text()
    assert form.status == 200 and '<html lang="vi">' in html and "Đăng nhập" in html
    assert "default-src 'none'" in form.headers["Content-Security-Policy"]
    english = await world.client.get("/console/sign-in?lang=en")
    assert "Sign in" in await english.text()
    assert "lgsp_console_lang=en" in english.headers["Set-Cookie"]
    # The bearer API itself is unchanged: no session cookie opens it.
    assert (await world.client.get("/connectors")).status == 401


async def test_signing_in_sets_a_sealed_strict_http_only_cookie(world: World) -> None:
    token = world.store.create("nguyen-van-an", Role.ADMIN)
    assert token is not None
    wrong = await _sign_in(world, "lgsp_" + "x" * 43)
    assert wrong.status == 401 and "không hợp lệ" in await wrong.text()
    no_origin = await world.client.post("/console/sign-in", data={"token": token},
                                        allow_redirects=False)
    assert no_origin.status == 403
    foreign = await world.client.post("/console/sign-in", data={"token": token},
                                      headers={"Origin": "http://evil.example"},
                                      allow_redirects=False)
    assert foreign.status == 403
    good = await _sign_in(world, token)
    assert (good.status, good.headers["Location"]) == (303, "/console/")
    cookie = good.headers["Set-Cookie"]
    assert cookie.startswith("lgsp_console=")
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/console" in cookie
    assert "Max-Age=28800" in cookie
    assert "Secure" not in cookie  # plain http here; Secure over TLS
    assert token not in cookie
    page = await world.client.get("/console/")
    assert page.status == 200
    assert "token:nguyen-van-an" in await page.text()


async def test_an_open_redirect_after_sign_in_is_not_possible(world: World) -> None:
    token = world.store.create("someone", Role.VIEWER)
    assert token is not None
    for target in ("https://evil.example/console/", "//evil.example/console/", "/elsewhere"):
        response = await world.client.post(
            "/console/sign-in", data={"token": token, "next": target},
            headers={"Origin": world.origin}, allow_redirects=False)
        assert response.headers["Location"] == "/console/", target


async def test_posts_need_the_csrf_token_and_the_role_and_refusals_are_audited(
        world: World) -> None:
    token = world.store.create("viewer-1", Role.VIEWER)
    assert token is not None
    await _sign_in(world, token)
    csrf = _csrf(await (await world.client.get("/console/")).text())

    missing = await world.client.post("/console/connectors/one-stop/pause",
                                      data={}, headers={"Origin": world.origin})
    assert missing.status == 403 and "Biểu mẫu đã cũ" in await missing.text()
    foreign = await world.client.post("/console/connectors/one-stop/pause",
                                      data={"csrf_token": csrf},
                                      headers={"Origin": "http://evil.example"})
    assert foreign.status == 403
    assert world.audited == []  # refused before the role check: nothing was attempted

    crafted = await world.client.post("/console/dead-letters/replay",
                                      data={"csrf_token": csrf, "confirm": "yes"},
                                      headers={"Origin": world.origin})
    assert crafted.status == 403
    assert "replayer" in await crafted.text()
    pause = await world.client.post("/console/connectors/one-stop/pause",
                                    data={"csrf_token": csrf},
                                    headers={"Origin": world.origin})
    assert pause.status == 403 and "operator" in await pause.text()
    assert [(e.subject, e.action, e.target, e.result, e.status) for e in world.audited] == [
        ("token:viewer-1", "replay.start", "replay", Result.DENIED, 403),
        ("token:viewer-1", "connector.pause", "connector one-stop", Result.DENIED, 403)]
    assert all(e.client.startswith("console@") for e in world.audited)

    missing_page = await world.client.get("/console/no-such-page")
    assert missing_page.status == 404 and "Không tìm thấy trang" in await missing_page.text()

    # Signing out needs the token too, and ends the session.
    out = await world.client.post("/console/sign-out", data={"csrf_token": csrf},
                                  headers={"Origin": world.origin}, allow_redirects=False)
    assert out.status == 303 and 'lgsp_console=""' in out.headers["Set-Cookie"]


async def test_a_revoked_token_ends_its_session(world: World) -> None:
    token = world.store.create("short-lived", Role.REPLAYER)
    assert token is not None
    await _sign_in(world, token)
    assert (await world.client.get("/console/", allow_redirects=False)).status == 200
    world.store.revoke("short-lived")
    await asyncio.sleep(1.2)  # the gateway re-reads the token file within RELOAD_S
    after = await world.client.get("/console/", allow_redirects=False)
    assert after.status == 303 and "ended=1" in after.headers["Location"]


async def test_a_jwt_from_the_province_identity_provider_signs_in_until_it_expires(
        idp_world: tuple[World, ProvinceIdp]) -> None:
    world, idp = idp_world
    form = await (await world.client.get("/console/sign-in?lang=en")).text()
    assert "identity provider is configured" in form
    assert 'href="https://idp.example.gov.vn/token"' in form
    assert (await _sign_in(world, idp.token(["replayer"], exp=0))).status == 401  # expired
    assert (await _sign_in(world, idp.forged(["admin"]))).status == 401
    short = idp.token(["viewer"], exp=int(time.time()) + 2)
    response = await _sign_in(world, short)
    assert response.status == 303
    page = await world.client.get("/console/", allow_redirects=False)
    assert page.status == 200
    assert "oidc:nguyen.van.an (viewer)" in await page.text()
    await asyncio.sleep(2.5)
    ended = await world.client.get("/console/", allow_redirects=False)
    assert ended.status == 303 and "ended=1" in ended.headers["Location"]


async def test_pages_that_scan_topics_share_the_gateways_bound_on_expensive_reads(
        tmp_path: Path) -> None:
    settings = Settings(state_dir=tmp_path / "state", port=0)
    async with _world(settings, ReadLimiter(0, retry_after_s=3)) as world:
        token = world.store.create("busy", Role.VIEWER)
        assert token is not None
        await _sign_in(world, token)
        busy = await world.client.get("/console/replays")
        assert busy.status == 429 and busy.headers["Retry-After"] == "3"
        assert "Tạm thời không khả dụng" in await busy.text()
        # The sign-in page and the static files are never bounded.
        assert (await world.client.get("/console/sign-in")).status == 200
        css = await world.client.get("/console/static/console.css")
        assert css.status == 200 and "focus-visible" in await css.text()
