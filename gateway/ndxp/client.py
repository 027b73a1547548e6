"""`NdxpClient`: the router's HTTP client for national services on NDXP (or the stub).

One pooled aiohttp session per client. A bearer token is fetched lazily with OAuth2
client credentials, cached until shortly before it expires, and refreshed once (with
the request retried once) when the national side answers 401. Beyond that the client
never retries: the router owns retries and backoff, so every failure is raised as a
`ForwardError` whose class says whether retrying can help.
"""

from __future__ import annotations

__all__ = ["NdxpClient"]

import asyncio
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import aiohttp
import orjson

from gateway.errors import ForwardError, RejectedError, TransientForwardError
from gateway.logs import get_logger
from gateway.ndxp.wire import (
    HTTP_STATUS,
    IDEMPOTENCY_KEY,
    READYZ_PATH,
    TOKEN_PATH,
    OutboundTransaction,
    Receipt,
    ResultCode,
    batch_path,
    dumps,
    lookup_path,
    transaction_body,
    transaction_path,
    transactions_path,
)
from gateway.settings import NdxpSettings
from gateway.tls import client_context

_log = get_logger(__name__)
_JSON = "application/json"
# 408 and 429 are 4xx but say "not now", not "never": retrying them can help.
_RETRIABLE_4XX = frozenset({408, 429})
# Refresh this long before the token expires, so a request never leaves with a token
# that dies in flight; capped at a tenth of short lifetimes.
_REFRESH_MARGIN_S = 30.0
_READY_TIMEOUT_S = 5.0


@dataclass(frozen=True, slots=True)
class _Token:
    value: str
    refresh_at: float


@dataclass(frozen=True, slots=True)
class _Reply:
    status: int
    body: Any  # the decoded JSON, or None when the body was not JSON


class NdxpClient:
    """Submits transactions to national services, one by one or in batches.

    Use `await start()` / `await close()` or `async with`. Raises `TransientForwardError`
    for timeouts, connection failures, 5xx, 408 and 429, and `RejectedError` for other
    refusals; messages are one line with the HTTP status, result code and reason.
    """

    def __init__(self, settings: NdxpSettings) -> None:
        self._settings = settings
        self._base = settings.url.rstrip("/")
        self._session: aiohttp.ClientSession | None = None
        self._token: _Token | None = None
        self._token_lock = asyncio.Lock()

    async def start(self) -> None:
        """Create the pooled HTTP session (no request is made yet)."""
        if self._session is None:
            s = self._settings
            # https: verified against ndxp.ssl_ca_file (or the system's CAs), with the
            # client certificate when one is configured (mTLS).
            tls = client_context(
                "ndxp", ca_file=s.ssl_ca_file, cert_file=s.ssl_cert_file,
                key_file=s.ssl_key_file, key_password=s.ssl_key_password,
            ) if self._base.startswith("https:") else None
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=s.pool_size, ssl=tls if tls else True),
                timeout=aiohttp.ClientTimeout(total=self._settings.request_timeout_s),
            )

    async def close(self) -> None:
        """Close the session and its pooled connections."""
        session, self._session = self._session, None
        self._token = None
        if session is not None:
            await session.close()

    async def __aenter__(self) -> NdxpClient:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def submit(self, service: str, tx: OutboundTransaction) -> Receipt:
        """Send one transaction; its transaction id is the Idempotency-Key.

        A receipt with `duplicate=True` means the national side had it already.
        """
        what = f"transaction {tx.transaction_id} to {service}"
        body = self._encode(transaction_body(tx, self._settings.officer_id), what)
        reply = await self._call("POST", transactions_path(service), body, what,
                                 {IDEMPOTENCY_KEY: tx.transaction_id})
        if reply.status != 200:
            raise _error(reply, what)
        if not isinstance(reply.body, Mapping):
            raise TransientForwardError(f"NDXP answered {what} with a body that is not JSON",
                                        status=reply.status)
        return _receipt(reply.body, tx.transaction_id, service, what, reply.status)

    async def lookup(self, service: str, transaction_id: str) -> Receipt | None:
        """The receipt the service issued for this transaction, or None if it has none.

        For a caller that lost an answer (timeout, dropped connection): it learns whether
        the transaction arrived without sending it again. The receipt's `duplicate` is
        false, as the lookup itself delivers nothing. Raises ForwardError like `submit`.
        """
        what = f"lookup of transaction {transaction_id} at {service}"
        reply = await self._call("GET", transaction_path(service, transaction_id), None, what,
                                 {})
        if reply.status == 404 and _result_code(reply.body) == ResultCode.TRANSACTION_UNKNOWN:
            return None
        if reply.status != 200:
            raise _error(reply, what)
        if not isinstance(reply.body, Mapping):
            raise TransientForwardError(f"NDXP answered the {what} with a body that is not JSON",
                                        status=reply.status)
        return _receipt(reply.body, transaction_id, service, what, reply.status)

    async def lookup_batch(
        self, service: str, transaction_ids: Sequence[str]
    ) -> list[Receipt | None]:
        """The receipts of many transactions in one request, in order (None: not there).

        The bulk form of `lookup`, for a batch whose answer was lost: one request for the
        whole batch. Raises ForwardError like `lookup` if the question is not answered.
        """
        if not transaction_ids:
            return []
        what = f"lookup of {len(transaction_ids)} transactions at {service}"
        body = self._encode({"transaction_ids": list(transaction_ids)}, what)
        reply = await self._call("POST", lookup_path(service), body, what, {})
        if reply.status != 200:
            raise _error(reply, what)
        results = reply.body.get("results") if isinstance(reply.body, Mapping) else None
        if not isinstance(results, list) or len(results) != len(transaction_ids):
            raise TransientForwardError(
                f"NDXP answered the {what} without one result per transaction", status=200)
        return [_looked_up(result, tx_id, service, what)
                for result, tx_id in zip(results, transaction_ids, strict=True)]

    async def submit_batch(
        self, service: str, txs: Sequence[OutboundTransaction]
    ) -> list[Receipt | ForwardError]:
        """Send transactions in one request to a service that accepts batches.

        Returns one outcome per transaction, in order: a Receipt, or the ForwardError
        that transaction alone met. A failure of the whole request is raised instead.
        """
        if not txs:
            return []
        what = f"batch of {len(txs)} transactions to {service}"
        officer = self._settings.officer_id
        body = self._encode({"transactions": [transaction_body(tx, officer) for tx in txs]},
                            what)
        reply = await self._call("POST", batch_path(service), body, what, {})
        if reply.status != 200:
            raise _error(reply, what)
        results = reply.body.get("results") if isinstance(reply.body, Mapping) else None
        if not isinstance(results, list) or len(results) != len(txs):
            # The service took the batch but its answer cannot be matched up; sending it
            # again is safe, since each transaction carries its idempotency key.
            raise TransientForwardError(
                f"NDXP answered the {what} without one result per transaction", status=200
            )
        return [_batch_outcome(result, tx, service)
                for result, tx in zip(results, txs, strict=True)]

    async def ready(self) -> bool:
        """Whether the national endpoint says it is ready (`GET /readyz`); never raises."""
        session = self._session
        if session is None:
            return False
        timeout = aiohttp.ClientTimeout(total=min(_READY_TIMEOUT_S,
                                                  self._settings.request_timeout_s))
        try:
            async with session.get(self._base + READYZ_PATH, timeout=timeout,
                                   allow_redirects=False) as response:
                await response.read()
                return response.status == 200
        except (aiohttp.ClientError, TimeoutError):
            return False

    # -- transport -------------------------------------------------------------------

    @staticmethod
    def _encode(body: dict[str, Any], what: str) -> bytes:
        try:
            return dumps(body)
        except TypeError as exc:  # orjson.JSONEncodeError is a TypeError
            raise RejectedError(f"{what} cannot be sent as JSON: {exc}") from exc

    async def _call(
        self, method: str, path: str, body: bytes | None, what: str, headers: dict[str, str]
    ) -> _Reply:
        token = await self._bearer(what)
        reply = await self._send(method, path, body, what=what, headers=headers, token=token)
        if reply.status == 401:
            # The token may have been revoked or the national side restarted: one fresh
            # token, one more try; a second 401 is a real refusal.
            _log.info("ndxp token refused; fetching a new one", url=self._base)
            await self._forget(token)
            token = await self._bearer(what)
            reply = await self._send(method, path, body, what=what, headers=headers, token=token)
        return reply

    async def _send(
        self,
        method: str,
        path: str,
        body: bytes | None,
        *,
        what: str,
        headers: dict[str, str],
        token: str,
    ) -> _Reply:
        session = self._require_session()
        request_headers = {**headers, "Authorization": f"Bearer {token}", "Accept": _JSON}
        if body is not None:
            request_headers["Content-Type"] = _JSON
        try:
            async with session.request(method, self._base + path, data=body,
                                       headers=request_headers,
                                       allow_redirects=False) as response:
                raw = await response.read()
                return _Reply(response.status, _decode(raw))
        except TimeoutError as exc:
            raise TransientForwardError(
                f"NDXP did not answer {what} within {self._settings.request_timeout_s}s"
            ) from exc
        except aiohttp.ClientError as exc:
            raise TransientForwardError(
                f"cannot reach NDXP at {self._base} for {what}: {_describe(exc)}"
            ) from exc

    # -- token -----------------------------------------------------------------------

    async def _bearer(self, what: str) -> str:
        token = self._token
        if token is not None and time.monotonic() < token.refresh_at:
            return token.value
        # One fetch for everyone: hundreds of requests may find the token stale at once.
        async with self._token_lock:
            token = self._token
            if token is None or time.monotonic() >= token.refresh_at:
                token = await self._fetch_token(what)
                self._token = token
            return token.value

    async def _forget(self, token: str) -> None:
        async with self._token_lock:
            # Only drop the token that was refused: another request may have renewed it.
            if self._token is not None and self._token.value == token:
                self._token = None

    async def _fetch_token(self, what: str) -> _Token:
        session = self._require_session()
        settings = self._settings
        # HTTP Basic, as WSO2-style gateways expect; the header never reaches a log line.
        authorization = aiohttp.encode_basic_auth(
            settings.client_id, settings.client_secret.get_secret_value()
        )
        requested = time.monotonic()
        try:
            async with session.post(self._base + TOKEN_PATH,
                                    headers={"Authorization": authorization, "Accept": _JSON},
                                    data={"grant_type": "client_credentials"},
                                    allow_redirects=False) as response:
                reply = _Reply(response.status, _decode(await response.read()))
        except TimeoutError as exc:
            raise TransientForwardError(
                f"NDXP token endpoint did not answer within {settings.request_timeout_s}s "
                f"(for {what})"
            ) from exc
        except aiohttp.ClientError as exc:
            raise TransientForwardError(
                f"cannot reach NDXP at {self._base} for a token (for {what}): {_describe(exc)}"
            ) from exc
        if reply.status != 200:
            raise _error(reply, f"a token for client {settings.client_id} (for {what})")
        body = reply.body if isinstance(reply.body, Mapping) else {}
        value, expires_in = body.get("access_token"), body.get("expires_in")
        if not isinstance(value, str) or not value:
            raise TransientForwardError(
                f"NDXP token endpoint answered without an access_token (for {what})",
                status=reply.status,
            )
        lifetime = float(expires_in) if isinstance(expires_in, int | float) else 0.0
        margin = min(_REFRESH_MARGIN_S, lifetime / 10)
        _log.debug("ndxp token obtained", url=self._base, expires_in=lifetime)
        return _Token(value, requested + lifetime - margin)

    def _require_session(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise RuntimeError("NdxpClient.start() must be awaited before sending")
        return self._session


def _decode(raw: bytes) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None


def _describe(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__


def _result_code(body: Any) -> Any:
    return body.get("result_code") if isinstance(body, Mapping) else None


def _reason(body: Any) -> str:
    fields = body if isinstance(body, Mapping) else {}
    code = fields.get("result_code") or fields.get("error") or "no result code"
    message = fields.get("message") or fields.get("error_description") or "no message"
    return f"{code}: {message}"


def _error(reply: _Reply, what: str, *, in_batch: bool = False) -> ForwardError:
    status = reply.status
    # A batch item's status is the one its result code maps to; the HTTP answer was 200.
    reason = _reason(reply.body) if in_batch else f"HTTP {status} {_reason(reply.body)}"
    if status >= 500 or status in _RETRIABLE_4XX:
        return TransientForwardError(f"NDXP could not take {what}: {reason}", status=status)
    return RejectedError(f"NDXP refused {what}: {reason}", status=status)


def _receipt(
    body: Mapping[str, Any], transaction_id: str, service: str, what: str, status: int
) -> Receipt:
    receipt_id, received_at = body.get("receipt_id"), body.get("received_at")
    if body.get("result_code") != ResultCode.OK.value or not isinstance(receipt_id, str):
        raise TransientForwardError(
            f"NDXP answered {what} without a receipt (result_code "
            f"{body.get('result_code')!r})", status=status,
        )
    return Receipt(
        transaction_id=transaction_id,
        service=service,
        receipt_id=receipt_id,
        duplicate=body.get("duplicate") is True,
        received_at=received_at if isinstance(received_at, str) else "",
    )


def _looked_up(result: Any, transaction_id: str, service: str, what: str) -> Receipt | None:
    if isinstance(result, Mapping) and result.get("request_id") == transaction_id:
        if result.get("result_code") == ResultCode.TRANSACTION_UNKNOWN:
            return None
        if result.get("result_code") == ResultCode.OK:
            return _receipt(result, transaction_id, service, what, 200)
    # An answer about some other id, or of no known kind, settles nothing: the caller
    # must not resend on it, so it is the whole question that failed.
    raise TransientForwardError(
        f"NDXP answered the {what} with an unusable result for {transaction_id}", status=200)


def _batch_outcome(result: Any, tx: OutboundTransaction, service: str) -> Receipt | ForwardError:
    what = f"transaction {tx.transaction_id} to {service} (in a batch)"
    if not isinstance(result, Mapping) or result.get("request_id") != tx.transaction_id:
        return TransientForwardError(f"NDXP answered {what} with a result for another request")
    code = result.get("result_code")
    if code == ResultCode.OK.value:
        try:
            return _receipt(result, tx.transaction_id, service, what, 200)
        except TransientForwardError as exc:
            return exc
    try:
        status = HTTP_STATUS[ResultCode(str(code))]
    except ValueError:
        status = 400  # a code this client does not know yet: a refusal of the data
    return _error(_Reply(status, result), what, in_batch=True)
