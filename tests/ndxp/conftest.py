"""Real stub servers on loopback ports, real clients talking HTTP to them."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from pydantic import SecretStr

from devkit.localkafka import free_port
from devkit.stub import StubConfig, StubServer
from gateway.ndxp import NdxpClient
from gateway.settings import NdxpSettings

SECRET = "s3cret-for-tests"

StartStub = Callable[..., Awaitable[StubServer]]


@pytest.fixture
async def start_stub(tmp_path: Path) -> AsyncIterator[StartStub]:
    """Start stubs (`await start_stub(port=..., data_dir=..., ...)`); all stop at teardown."""
    async with contextlib.AsyncExitStack() as stack:

        async def start(**options: Any) -> StubServer:
            options.setdefault("data_dir", tmp_path / "stub")
            options.setdefault("port", free_port())
            options.setdefault("client_secret", SECRET)
            return await stack.enter_async_context(StubServer(StubConfig(**options)))

        yield start


@pytest.fixture
async def stub(start_stub: StartStub) -> StubServer:
    """One running stub with an empty journal."""
    return await start_stub()


def settings_for(url: str, **changes: Any) -> NdxpSettings:
    """Client settings for a stub at `url`."""
    values: dict[str, Any] = {"url": url, "client_secret": SecretStr(SECRET),
                              "request_timeout_s": 5.0}
    values.update(changes)
    return NdxpSettings(**values)


@pytest.fixture
async def client(stub: StubServer) -> AsyncIterator[NdxpClient]:
    """An NdxpClient talking to `stub`."""
    async with NdxpClient(settings_for(stub.url)) as ndxp:
        yield ndxp


def basic(client_id: str, secret: str) -> str:
    """An HTTP Basic Authorization header value."""
    return aiohttp.encode_basic_auth(client_id, secret)


class Http:
    """Raw HTTP against a stub, for what the client never sends (malformed requests)."""

    def __init__(self, session: aiohttp.ClientSession, url: str) -> None:
        self.session = session
        self.url = url

    async def token(self) -> str:
        """A fresh bearer token from the stub."""
        async with self.session.post(f"{self.url}/oauth2/token",
                                     headers={"Authorization": basic("tests", SECRET)},
                                     data={"grant_type": "client_credentials"}) as response:
            assert response.status == 200, await response.text()
            token: str = (await response.json())["access_token"]
            return token

    async def call(
        self, method: str, path: str, *, token: str | None = None, **kwargs: Any
    ) -> tuple[int, Any]:
        """(status, decoded JSON body) of one request."""
        headers = dict(kwargs.pop("headers", {}))
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        async with self.session.request(method, self.url + path, headers=headers,
                                        **kwargs) as response:
            return response.status, await response.json(content_type=None)

    async def stats(self) -> dict[str, Any]:
        """`GET /ndxp/v1/stats`."""
        status, body = await self.call("GET", "/ndxp/v1/stats")
        assert status == 200
        assert isinstance(body, dict)
        return body

    async def faults(self, **faults: Any) -> dict[str, Any]:
        """`PUT /ndxp/v1/faults` with these fields; returns the faults in force."""
        status, body = await self.call("PUT", "/ndxp/v1/faults", json=faults)
        assert status == 200, body
        assert isinstance(body, dict)
        return body


@contextlib.asynccontextmanager
async def open_http(url: str) -> AsyncIterator[Http]:
    """Raw HTTP access to the stub at `url`."""
    async with aiohttp.ClientSession() as session:
        yield Http(session, url)


@pytest.fixture
async def http(stub: StubServer) -> AsyncIterator[Http]:
    """Raw HTTP access to `stub`."""
    async with open_http(stub.url) as raw:
        yield raw
