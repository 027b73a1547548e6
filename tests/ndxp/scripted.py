"""A national endpoint that answers as scripted, for answers the stub never gives.

A real HTTP server on loopback: it issues tokens (with the lifetime asked for) and
answers every transaction request with the status and body given, counting both.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import orjson
from aiohttp import web

from devkit.localkafka import free_port


@dataclass
class Script:
    """What the endpoint answers, and what it has seen."""

    status: int = 200
    body: bytes = b""
    token_lifetime_s: int = 3600
    token_requests: int = 0
    transaction_requests: int = 0
    authorizations: list[str] = field(default_factory=list)

    def answer(self, status: int, body: object) -> None:
        """Answer transactions with this status and body (bytes as they are, else JSON)."""
        self.status = status
        self.body = body if isinstance(body, bytes) else orjson.dumps(body)


@contextlib.asynccontextmanager
async def scripted_endpoint() -> AsyncIterator[tuple[str, Script]]:
    """Yield (base URL, script) of a running scripted endpoint."""
    script = Script()

    async def token(_request: web.Request) -> web.Response:
        script.token_requests += 1
        return web.json_response({"access_token": f"token-{script.token_requests}",
                                  "token_type": "Bearer",
                                  "expires_in": script.token_lifetime_s})

    async def transaction(request: web.Request) -> web.Response:
        script.transaction_requests += 1
        script.authorizations.append(request.headers.get("Authorization", ""))
        return web.Response(status=script.status, body=script.body,
                            content_type="application/json")

    app = web.Application()
    app.router.add_post("/oauth2/token", token)
    app.router.add_post("/ndxp/v1/services/{service}/transactions", transaction)
    app.router.add_post("/ndxp/v1/services/{service}/transactions:batch", transaction)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield f"http://127.0.0.1:{port}", script
    finally:
        await runner.cleanup()
