"""Single transactions through the real client to a real stub: receipts, duplicates, refusals."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import datetime
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from devkit.stub import StubServer
from gateway.errors import RejectedError
from gateway.ndxp import NdxpClient
from tests.ndxp.conftest import Http
from tests.ndxp.factories import make_tx, raw_body

DOCS = "QG.VBDT.GUINHAN"
PATH = f"/ndxp/v1/services/{DOCS}/transactions"


async def test_a_transaction_gets_a_receipt_and_is_counted(
    client: NdxpClient, http: Http
) -> None:
    tx = make_tx()
    receipt = await client.submit(DOCS, tx)

    assert receipt.transaction_id == tx.transaction_id
    assert receipt.service == DOCS
    assert receipt.receipt_id.startswith("NDXP-")
    assert receipt.duplicate is False
    assert datetime.fromisoformat(receipt.received_at).tzinfo is not None
    assert await http.stats() == {
        "received": 1, "unique": 1, "duplicates": 0, "rejected": 0,
        "by_service": {DOCS: {"received": 1, "unique": 1, "duplicates": 0}},
    }


async def test_a_repeated_key_returns_the_same_receipt_as_a_duplicate(
    client: NdxpClient, http: Http
) -> None:
    before = await _metric(http, "lgsp_stub_duplicates_total", service=DOCS)
    tx = make_tx()
    first = await client.submit(DOCS, tx)
    again = await client.submit(DOCS, tx)

    assert again == dataclasses.replace(first, duplicate=True)
    stats = await http.stats()
    assert (stats["received"], stats["unique"], stats["duplicates"]) == (2, 1, 1)
    assert stats["by_service"][DOCS] == {"received": 2, "unique": 1, "duplicates": 1}
    assert await _metric(http, "lgsp_stub_duplicates_total", service=DOCS) == before + 1


async def test_concurrent_requests_with_one_new_key_give_one_unique_and_one_receipt(
    client: NdxpClient, http: Http
) -> None:
    tx = make_tx()
    receipts = await asyncio.gather(*(client.submit(DOCS, tx) for _ in range(20)))

    assert sorted(r.duplicate for r in receipts) == [False] + [True] * 19
    assert len({r.receipt_id for r in receipts}) == 1
    stats = await http.stats()
    assert (stats["received"], stats["unique"], stats["duplicates"]) == (20, 1, 19)


async def test_many_concurrent_new_keys_are_each_unique(client: NdxpClient, http: Http) -> None:
    receipts = await asyncio.gather(*(client.submit(DOCS, make_tx()) for _ in range(300)))

    assert not any(r.duplicate for r in receipts)
    assert len({r.receipt_id for r in receipts}) == 300
    assert (await http.stats())["unique"] == 300


async def test_a_lookup_finds_a_delivered_transaction_and_not_an_unsent_one(
    client: NdxpClient, http: Http
) -> None:
    tx = make_tx()
    assert await client.lookup(DOCS, tx.transaction_id) is None
    receipt = await client.submit(DOCS, tx)

    assert await client.lookup(DOCS, tx.transaction_id) == receipt
    assert await client.lookup("QG.HTBC.NOPBAOCAO", tx.transaction_id) is None
    assert (await http.stats())["received"] == 1  # lookups are not transactions


@pytest.mark.parametrize(
    ("body", "key", "code", "names"),
    [
        (raw_body("k-1"), None, "DATA_INCORRECT", "Idempotency-Key"),
        (raw_body("k-1"), "k-2", "DATA_INCORRECT", "request_id"),
        (raw_body("x" * 41), "x" * 41, "DATA_INCORRECT", "request_id"),
        (raw_body("k-1", agency_code="CAMAU"), "k-1", "AGENCY_ID_INCORRECT", "agency_code"),
        (raw_body("k-1", officer_id=None), "k-1", "DATA_INCORRECT", "officer_id"),
        (raw_body("k-1", correlation_id=""), "k-1", "DATA_INCORRECT", "correlation_id"),
        (raw_body("k-1", schema_version="2"), "k-1", "DATA_INCORRECT", "schema_version"),
        (raw_body("k-1", occurred_at="yesterday"), "k-1", "DATA_INCORRECT", "occurred_at"),
        (raw_body("k-1", payload=[1, 2]), "k-1", "DATA_INCORRECT", "payload"),
        ("{not json", "k-1", "DATA_INCORRECT", "JSON"),
        ([raw_body("k-1")], "k-1", "DATA_INCORRECT", "JSON object"),
    ],
)
async def test_a_malformed_transaction_is_refused_with_its_code_and_field(
    http: Http, body: Any, key: str | None, code: str, names: str
) -> None:
    headers = {"Idempotency-Key": key} if key else {}
    data = body if isinstance(body, str) else None
    json = None if isinstance(body, str) else body
    status, answer = await http.call("POST", PATH, token=await http.token(), headers=headers,
                                     data=data, json=json)

    assert status == 400
    assert answer["result_code"] == code
    assert names in answer["message"]
    assert "\n" not in answer["message"]
    stats = await http.stats()
    assert (stats["received"], stats["rejected"]) == (0, 1)


async def test_an_unknown_service_is_404_for_raw_calls_and_rejected_for_the_client(
    client: NdxpClient, http: Http
) -> None:
    body = raw_body("k-1")
    status, answer = await http.call(
        "POST", "/ndxp/v1/services/QG.NOPE/transactions", token=await http.token(),
        headers={"Idempotency-Key": "k-1"}, json=body)
    assert (status, answer["result_code"]) == (404, "SERVICE_UNKNOWN")

    with pytest.raises(RejectedError) as caught:
        await client.submit("QG.NOPE", make_tx())
    assert caught.value.status == 404
    assert not caught.value.retriable
    assert "SERVICE_UNKNOWN" in str(caught.value)
    assert (await http.stats())["rejected"] == 2


async def test_a_bad_agency_code_is_a_rejection_naming_the_code(client: NdxpClient) -> None:
    with pytest.raises(RejectedError) as caught:
        await client.submit(DOCS, make_tx(source_agency_code="H12"))
    assert caught.value.status == 400
    assert "HTTP 400 AGENCY_ID_INCORRECT" in str(caught.value)
    assert "'H12'" in str(caught.value)


async def test_a_key_used_for_another_service_is_refused(client: NdxpClient) -> None:
    tx = make_tx()
    await client.submit(DOCS, tx)
    with pytest.raises(RejectedError, match=r"already used for service QG\.VBDT\.GUINHAN"):
        await client.submit("QG.HTBC.NOPBAOCAO", tx)


async def test_a_payload_json_cannot_carry_is_rejected_before_sending(
    client: NdxpClient, http: Http
) -> None:
    with pytest.raises(RejectedError, match="cannot be sent as JSON") as caught:
        await client.submit(DOCS, make_tx(payload={"blob": object()}))
    assert caught.value.status is None
    assert (await http.stats())["rejected"] == 0  # nothing reached the stub


async def test_catalogue_health_and_metrics(stub: StubServer, http: Http) -> None:
    status, listing = await http.call("GET", "/ndxp/v1/services")
    assert status == 200
    services = {s["code"]: s for s in listing["services"]}
    assert len(services) == 23
    assert {"QG.VBDT.GUINHAN", "QG.DVCQG.DONGBOHOSO", "QG.HTBC.NOPBAOCAO"} <= services.keys()
    assert services["QG.DVCQG.DONGBOHOSO"]["accepts_batch"] is True
    assert await http.call("GET", "/healthz") == (200, {"status": "ok"})
    assert await http.call("GET", "/readyz") == (200, {"status": "ready"})

    async with http.session.get(f"{stub.url}/metrics") as response:
        assert response.status == 200
        text = await response.text()
    names = {family.name for family in text_string_to_metric_families(text)}
    assert {"lgsp_stub_requests", "lgsp_stub_duplicates",
            "lgsp_stub_request_duration_seconds"} <= names


async def _metric(http: Http, name: str, **labels: str) -> float:
    async with http.session.get(f"{http.url}/metrics") as response:
        text = await response.text()
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items())
    )
