"""Fault injection: an outage, a flaky service and a slow one, as the router will meet them."""

from __future__ import annotations

import asyncio
import time

import pytest

from devkit.stub import StubServer
from gateway.errors import TransientForwardError
from gateway.ndxp import NdxpClient
from tests.ndxp.conftest import Http, settings_for
from tests.ndxp.factories import make_tx, raw_body

DOCS = "QG.VBDT.GUINHAN"
DOSSIERS = "QG.DVCQG.DONGBOHOSO"


async def test_down_answers_503_records_nothing_and_a_later_retry_is_a_first_delivery(
    client: NdxpClient, http: Http
) -> None:
    assert await http.faults(down=True) == {"error_rate": 0.0, "latency_ms": 0, "down": True,
                                            "down_services": []}
    tx = make_tx()
    with pytest.raises(TransientForwardError) as caught:
        await client.submit(DOCS, tx)
    assert caught.value.status == 503
    assert caught.value.retriable
    assert "SERVICE_UNAVAILABLE" in str(caught.value)
    assert await client.ready() is False
    assert await http.call("GET", "/readyz") == (503, {"status": "down"})

    await http.faults(down=False)
    receipt = await client.submit(DOCS, tx)
    assert receipt.duplicate is False
    assert await client.ready() is True
    stats = await http.stats()
    assert (stats["received"], stats["unique"], stats["duplicates"], stats["rejected"]) == (
        1, 1, 0, 1)


async def test_a_batch_refused_while_down_counts_each_of_its_transactions(http: Http) -> None:
    await http.faults(down=True)
    status, body = await http.call(
        "POST", f"/ndxp/v1/services/{DOSSIERS}/transactions:batch", token=await http.token(),
        json={"transactions": [raw_body(), raw_body(), raw_body()]})
    assert (status, body["result_code"]) == (503, "SERVICE_UNAVAILABLE")
    assert (await http.stats())["rejected"] == 3


async def test_error_rate_fails_that_share_of_requests_before_recording_them(
    client: NdxpClient, http: Http
) -> None:
    await http.faults(error_rate=1.0)
    tx = make_tx()
    with pytest.raises(TransientForwardError, match="injected error"):
        await client.submit(DOCS, tx)

    await http.faults(error_rate=0.5)
    outcomes = await asyncio.gather(*(client.submit(DOCS, make_tx()) for _ in range(200)),
                                    return_exceptions=True)
    failed = [o for o in outcomes if isinstance(o, TransientForwardError)]
    assert 40 < len(failed) < 160  # about half; the bounds are ~8 standard deviations wide
    assert all(f.status == 503 for f in failed)

    await http.faults(error_rate=0)
    assert (await client.submit(DOCS, tx)).duplicate is False
    stats = await http.stats()
    assert stats["unique"] == 200 - len(failed) + 1
    assert stats["rejected"] == len(failed) + 1
    assert stats["duplicates"] == 0


async def test_latency_delays_each_answer(client: NdxpClient, http: Http) -> None:
    await client.submit(DOCS, make_tx())  # token fetched and connection warm
    await http.faults(latency_ms=300)
    started = time.perf_counter()
    await client.submit(DOCS, make_tx())
    assert time.perf_counter() - started >= 0.3


async def test_a_service_slower_than_the_timeout_is_a_transient_error(
    stub: StubServer, http: Http
) -> None:
    async with NdxpClient(settings_for(stub.url, request_timeout_s=0.2)) as client:
        await client.submit(DOCS, make_tx())  # the token, fetched while the stub is quick
        await http.faults(latency_ms=800)
        started = time.perf_counter()
        with pytest.raises(TransientForwardError, match=r"did not answer .* within 0\.2s"
                           ) as caught:
            await client.submit(DOCS, make_tx())
    assert time.perf_counter() - started < 0.7
    assert caught.value.status is None
    assert caught.value.retriable


async def test_faults_are_read_and_changed_partially(http: Http) -> None:
    assert await http.call("GET", "/ndxp/v1/faults") == (
        200, {"error_rate": 0.0, "latency_ms": 0, "down": False, "down_services": []})
    assert await http.faults(latency_ms=25) == {"error_rate": 0.0, "latency_ms": 25,
                                                "down": False, "down_services": []}
    assert await http.faults(error_rate=0.25) == {"error_rate": 0.25, "latency_ms": 25,
                                                  "down": False, "down_services": []}


async def test_one_service_can_be_down_while_the_others_answer(
    client: NdxpClient, http: Http
) -> None:
    faults = await http.faults(down_services=[DOSSIERS])
    assert faults["down_services"] == [DOSSIERS] and faults["down"] is False
    with pytest.raises(TransientForwardError) as caught:
        await client.submit(DOSSIERS, make_tx())
    assert caught.value.status == 503
    with pytest.raises(TransientForwardError):
        await client.lookup(DOSSIERS, "any-id")
    receipt = await client.submit(DOCS, make_tx())
    assert receipt.duplicate is False
    await http.faults(down_services=[])
    assert (await client.submit(DOSSIERS, make_tx())).duplicate is False


@pytest.mark.parametrize(
    ("body", "field"),
    [({"error_rate": 1.5}, "error_rate"), ({"latency_ms": -1}, "latency_ms"),
     ({"down": "yes"}, "down"), ({"outage": True}, "outage"),
     ({"down_services": "QG.X"}, "down_services")],
)
async def test_invalid_faults_are_refused_naming_the_field(
    http: Http, body: dict[str, object], field: str
) -> None:
    status, answer = await http.call("PUT", "/ndxp/v1/faults", json=body)
    assert (status, answer["result_code"]) == (400, "DATA_INCORRECT")
    assert answer["message"].startswith(f"invalid faults: {field}:")
    assert (await http.call("GET", "/ndxp/v1/faults"))[1]["error_rate"] == 0.0
