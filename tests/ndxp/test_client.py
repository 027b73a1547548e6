"""NdxpClient's error mapping and token handling, against answers a real service may give."""

from __future__ import annotations

import asyncio

import pytest

from devkit.localkafka import free_port
from devkit.stub import StubServer
from gateway.errors import RejectedError, TransientForwardError
from gateway.ndxp import NdxpClient
from tests.ndxp.conftest import StartStub, settings_for
from tests.ndxp.factories import make_tx
from tests.ndxp.scripted import scripted_endpoint

DOCS = "QG.VBDT.GUINHAN"


@pytest.mark.parametrize(
    ("status", "body", "error", "shown"),
    [
        (503, {"result_code": "SERVICE_UNAVAILABLE", "message": "maintenance"},
         TransientForwardError, "HTTP 503 SERVICE_UNAVAILABLE: maintenance"),
        (502, b"<html>Bad Gateway</html>", TransientForwardError, "HTTP 502"),
        (429, {"result_code": "THROTTLED", "message": "slow down"}, TransientForwardError,
         "HTTP 429 THROTTLED: slow down"),
        (400, {"result_code": "DATA_INCORRECT", "message": "missing field 'x'\nsecond line"},
         RejectedError, "HTTP 400 DATA_INCORRECT: missing field 'x' second line"),
        (403, {"result_code": "IP_NOT_ALLOWED", "message": "no"}, RejectedError,
         "HTTP 403 IP_NOT_ALLOWED: no"),
        (200, b"not json", TransientForwardError, "not JSON"),
        (200, {"result_code": "0"}, TransientForwardError, "without a receipt"),
    ],
)
async def test_answers_map_to_transient_or_rejected_errors(
    status: int, body: object, error: type[Exception], shown: str
) -> None:
    async with scripted_endpoint() as (url, script), NdxpClient(settings_for(url)) as client:
        script.answer(status, body)
        with pytest.raises(error) as caught:
            await client.submit(DOCS, make_tx())
    message = str(caught.value)
    assert shown in message
    assert "\n" not in message
    assert isinstance(caught.value, TransientForwardError | RejectedError)
    assert caught.value.status == status
    assert caught.value.retriable is (error is TransientForwardError)
    assert script.transaction_requests == 1  # never retried inside the client


async def test_a_refused_token_is_renewed_once_and_the_request_retried_once() -> None:
    async with scripted_endpoint() as (url, script), NdxpClient(settings_for(url)) as client:
        script.answer(401, {"result_code": "AUTH_ERROR", "message": "token revoked"})
        with pytest.raises(RejectedError, match="HTTP 401 AUTH_ERROR") as caught:
            await client.submit(DOCS, make_tx())
    assert caught.value.status == 401
    assert script.token_requests == 2
    assert script.authorizations == ["Bearer token-1", "Bearer token-2"]


async def test_one_token_serves_many_concurrent_requests() -> None:
    async with scripted_endpoint() as (url, script), NdxpClient(settings_for(url)) as client:
        script.answer(200, {"result_code": "0", "receipt_id": "R-1", "received_at": "t"})
        await asyncio.gather(*(client.submit(DOCS, make_tx()) for _ in range(50)))
    assert script.token_requests == 1
    assert script.transaction_requests == 50


async def test_a_token_is_renewed_before_it_expires() -> None:
    async with scripted_endpoint() as (url, script), NdxpClient(settings_for(url)) as client:
        script.token_lifetime_s = 0  # already due for renewal when it arrives
        script.answer(200, {"result_code": "0", "receipt_id": "R-1", "received_at": "t"})
        for _ in range(3):
            await client.submit(DOCS, make_tx())
    assert script.token_requests == 3


async def test_a_batch_answer_that_does_not_match_the_batch_is_transient() -> None:
    async with scripted_endpoint() as (url, script), NdxpClient(settings_for(url)) as client:
        script.answer(200, {"results": []})
        with pytest.raises(TransientForwardError, match="one result per transaction"):
            await client.submit_batch("QG.DVCQG.DONGBOHOSO", [make_tx()])


async def test_connection_refused_is_a_transient_error() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    async with NdxpClient(settings_for(url)) as client:
        with pytest.raises(TransientForwardError, match="cannot reach NDXP") as caught:
            await client.submit(DOCS, make_tx())
        assert await client.ready() is False
    assert caught.value.status is None
    assert caught.value.retriable


async def test_ready_follows_the_endpoint(start_stub: StartStub) -> None:
    stub: StubServer = await start_stub()
    client = NdxpClient(settings_for(stub.url))
    assert await client.ready() is False  # not started: nothing to ask with
    async with client:
        assert await client.ready() is True
        await stub.stop()
        assert await client.ready() is False


async def test_sending_before_start_is_a_programming_error() -> None:
    client = NdxpClient(settings_for("http://127.0.0.1:9"))
    with pytest.raises(RuntimeError, match="start"):
        await client.submit(DOCS, make_tx())
