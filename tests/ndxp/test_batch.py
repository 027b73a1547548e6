"""The batch endpoint: one request, one result per transaction, same idempotency rules."""

from __future__ import annotations

import pytest

from gateway.errors import ForwardError, RejectedError
from gateway.ndxp import NdxpClient, Receipt
from tests.ndxp.conftest import Http
from tests.ndxp.factories import make_tx, raw_body

DOSSIERS = "QG.DVCQG.DONGBOHOSO"
BATCH = f"/ndxp/v1/services/{DOSSIERS}/transactions:batch"


async def test_a_mixed_batch_gets_a_result_per_transaction_in_order(
    client: NdxpClient, http: Http
) -> None:
    earlier = make_tx()
    first = await client.submit(DOSSIERS, earlier)
    fresh, bad_agency = make_tx(), make_tx(source_agency_code="not-an-agency")

    outcomes = await client.submit_batch(DOSSIERS, [fresh, earlier, bad_agency, fresh])

    assert len(outcomes) == 4
    new, again, refused, repeated = outcomes
    assert isinstance(new, Receipt)
    assert (new.transaction_id, new.duplicate) == (fresh.transaction_id, False)
    assert again == Receipt(earlier.transaction_id, DOSSIERS, first.receipt_id, True,
                            first.received_at)
    assert isinstance(refused, RejectedError)
    assert refused.status == 400
    assert "AGENCY_ID_INCORRECT" in str(refused)
    assert bad_agency.transaction_id in str(refused)
    assert isinstance(repeated, Receipt)
    assert (repeated.receipt_id, repeated.duplicate) == (new.receipt_id, True)
    stats = await http.stats()
    assert (stats["received"], stats["unique"], stats["duplicates"], stats["rejected"]) == (
        4, 2, 2, 1)


async def test_raw_batch_results_name_each_problem(http: Http) -> None:
    good = raw_body()
    status, body = await http.call("POST", BATCH, token=await http.token(), json={
        "transactions": [good, raw_body(payload=None), "not an object"]})

    assert status == 200
    ok, missing, garbage = body["results"]
    assert ok["result_code"] == "0"
    assert ok["request_id"] == good["request_id"]
    assert ok["receipt_id"].startswith("NDXP-")
    assert ok["duplicate"] is False
    assert (missing["result_code"], missing["receipt_id"]) == ("DATA_INCORRECT", None)
    assert missing["message"] == "missing field 'payload'"
    assert (garbage["request_id"], garbage["result_code"]) == (None, "DATA_INCORRECT")


@pytest.mark.parametrize(
    ("body", "names"),
    [({"transactions": []}, "transactions"), ({"items": [raw_body()]}, "transactions"),
     ({"transactions": [raw_body() for _ in range(501)]}, "at most 500")],
)
async def test_a_malformed_batch_is_refused_whole(
    http: Http, body: dict[str, object], names: str
) -> None:
    status, answer = await http.call("POST", BATCH, token=await http.token(), json=body)
    assert (status, answer["result_code"]) == (400, "DATA_INCORRECT")
    assert names in answer["message"]
    assert (await http.stats())["received"] == 0


async def test_a_service_without_batches_refuses_them(client: NdxpClient) -> None:
    with pytest.raises(RejectedError, match="does not accept batches") as caught:
        await client.submit_batch("QG.VBDT.GUINHAN", [make_tx(), make_tx()])
    assert caught.value.status == 400


async def test_an_empty_batch_sends_nothing(client: NdxpClient, http: Http) -> None:
    outcomes: list[Receipt | ForwardError] = await client.submit_batch(DOSSIERS, [])
    assert outcomes == []
    assert (await http.stats())["rejected"] == 0
