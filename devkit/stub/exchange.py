"""The exchange face of the stub: the token endpoint and the transaction endpoints.

Each request to a service (a transaction, a batch, or a lookup of a receipt) passes,
in order: the IP allow-list (403), the bearer token (401), the `down` fault (503 at
once), the injected latency, the `error_rate` fault (503), and only then the intake,
which validates and records it. Faults act before anything is recorded, so a retry
after an injected 503 is a first delivery.
"""

from __future__ import annotations

__all__ = ["ExchangeRoutes"]

import asyncio
import time
from collections.abc import Awaitable, Callable

from aiohttp import web

from devkit.stub.auth import IpAllowList, TokenIssuer, basic_credentials
from devkit.stub.faults import Faults
from devkit.stub.intake import Answer, Intake, batch_size, refusal
from devkit.stub.metering import Meter
from devkit.stub.responses import json_response
from gateway.ndxp.wire import (
    BATCH_SUFFIX,
    HTTP_STATUS,
    IDEMPOTENCY_KEY,
    LOOKUP_SUFFIX,
    SERVICES_PATH,
    TOKEN_PATH,
    ResultCode,
)

_SERVICE = "service_code"
_REQUEST_ID = "request_id"
_UNAUTHENTICATED = {"WWW-Authenticate": 'Bearer realm="ndxp"'}


class ExchangeRoutes:
    """Handlers for `POST /oauth2/token` and the per-service transaction endpoints."""

    def __init__(
        self,
        intake: Intake,
        issuer: TokenIssuer,
        allow_list: IpAllowList,
        faults: Faults,
        meter: Meter,
    ) -> None:
        self._intake = intake
        self._issuer = issuer
        self._allow_list = allow_list
        self._faults = faults
        self._meter = meter

    def add_to(self, app: web.Application) -> None:
        """Register the routes on the stub's application."""
        app.router.add_post(TOKEN_PATH, self.token)
        base = f"{SERVICES_PATH}/{{{_SERVICE}}}/transactions"
        app.router.add_post(base, self.transaction)
        app.router.add_post(base + BATCH_SUFFIX, self.batch)
        app.router.add_post(base + LOOKUP_SUFFIX, self.lookup_many)
        app.router.add_get(f"{base}/{{{_REQUEST_ID}}}", self.lookup)

    async def token(self, request: web.Request) -> web.Response:
        """OAuth2 client credentials: id and secret by HTTP Basic or as form fields."""
        if not self._allow_list.allows(request.remote):
            return _ip_refused(request.remote)
        form = await request.post()
        if form.get("grant_type") != "client_credentials":
            return json_response(400, {
                "error": "unsupported_grant_type",
                "result_code": ResultCode.DATA_INCORRECT.value,
                "message": "field 'grant_type' must be client_credentials",
            })
        client_id, client_secret = form.get("client_id"), form.get("client_secret")
        basic = basic_credentials(request.headers.get("Authorization"))
        if basic is not None:
            client_id, client_secret = basic
        token = None
        if isinstance(client_id, str) and isinstance(client_secret, str):
            token = self._issuer.issue(client_id, client_secret)
        if token is None:
            return json_response(401, {
                "error": "invalid_client",
                "result_code": ResultCode.AUTH_ERROR.value,
                "message": "unknown client id or wrong client secret",
            }, headers={"WWW-Authenticate": 'Basic realm="ndxp"'})
        return json_response(200, {
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": self._issuer.ttl_s,
            "scope": "default",
        })

    async def transaction(self, request: web.Request) -> web.Response:
        """`POST .../transactions`: one transaction, keyed by its Idempotency-Key."""
        key = request.headers.get(IDEMPOTENCY_KEY)

        def handle(service: str, raw: bytes) -> Awaitable[Answer]:
            return self._intake.one(service, key, raw)

        return await self._serve(request, handle, lambda _raw: 1)

    async def batch(self, request: web.Request) -> web.Response:
        """`POST .../transactions:batch`: many transactions, a result for each."""
        refusal = self._faults.injects_refusal

        def handle(service: str, raw: bytes) -> Awaitable[Answer]:
            # A service checks each record of a batch: `reject_rate` refuses items.
            return self._intake.batch(service, raw, refuse=refusal)

        return await self._serve(request, handle, batch_size, per_item=True)

    async def lookup(self, request: web.Request) -> web.Response:
        """`GET .../transactions/{request_id}`: the receipt of a transaction, or 404.

        Lets a caller that lost an answer (timeout, dropped connection) learn whether
        the transaction arrived without sending it again.
        """
        request_id = request.match_info[_REQUEST_ID]

        def handle(service: str, _raw: bytes) -> Awaitable[Answer]:
            return self._intake.lookup(service, request_id)

        return await self._serve(request, handle, None)

    async def lookup_many(self, request: web.Request) -> web.Response:
        """`POST .../transactions:lookup`: the receipts of many transactions at once.

        What a caller asks after a batch whose answer it lost: one request, not one
        lookup per transaction. Like a single lookup it delivers nothing.
        """
        return await self._serve(request, self._intake.lookup_many, None)

    async def _serve(
        self,
        request: web.Request,
        handle: Callable[[str, bytes], Awaitable[Answer]],
        count: Callable[[bytes], int] | None,
        *,
        per_item: bool = False,
    ) -> web.Response:
        started = time.perf_counter()
        service = request.match_info[_SERVICE]
        answer = await self._answer(request, service, handle, count, per_item)
        self._meter.duration(service, time.perf_counter() - started)
        headers = _UNAUTHENTICATED if answer.status == 401 else None
        return json_response(answer.status, answer.body, headers)

    async def _answer(
        self,
        request: web.Request,
        service: str,
        handle: Callable[[str, bytes], Awaitable[Answer]],
        count: Callable[[bytes], int] | None,
        per_item: bool = False,
    ) -> Answer:
        if not self._allow_list.allows(request.remote):
            self._meter.request(service, ResultCode.IP_NOT_ALLOWED.value)
            return refusal(ResultCode.IP_NOT_ALLOWED, _ip_message(request.remote))
        if not self._issuer.valid(request.headers.get("Authorization")):
            self._meter.request(service, ResultCode.AUTH_ERROR.value)
            return refusal(ResultCode.AUTH_ERROR,
                           f"missing, unknown or expired bearer token; get one from {TOKEN_PATH}")
        raw = await request.read()
        faults = self._faults
        if faults.is_down(service):
            return self._unavailable(service, "the national service is down (injected fault)",
                                     count, raw)
        if faults.latency_ms:
            await asyncio.sleep(faults.latency_ms / 1000)
        if faults.injects_error():
            return self._unavailable(service, "the national service failed (injected error)",
                                     count, raw)
        if count is not None and not per_item and faults.injects_refusal():
            return self._intake.refuse(service, ResultCode.DATA_INCORRECT,
                                       "the national service refused the data (injected)",
                                       count(raw))
        return await handle(service, raw)

    def _unavailable(
        self, service: str, message: str, count: Callable[[bytes], int] | None, raw: bytes
    ) -> Answer:
        if count is None:  # a lookup: refused, but it was never a transaction to count
            self._meter.request(service, ResultCode.SERVICE_UNAVAILABLE.value)
            return refusal(ResultCode.SERVICE_UNAVAILABLE, message)
        return self._intake.refuse(service, ResultCode.SERVICE_UNAVAILABLE, message, count(raw))


def _ip_message(remote: str | None) -> str:
    return f"client address {remote or 'unknown'} is not on the stub's allow-list"


def _ip_refused(remote: str | None) -> web.Response:
    return json_response(HTTP_STATUS[ResultCode.IP_NOT_ALLOWED], {
        "error": "access_denied",
        "result_code": ResultCode.IP_NOT_ALLOWED.value,
        "message": _ip_message(remote),
    })
