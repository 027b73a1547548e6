"""The bulk lookup: which of these transactions do you have? One request for a batch."""

from __future__ import annotations

import pytest

from gateway.errors import RejectedError, TransientForwardError
from gateway.ndxp import NdxpClient, Receipt
from tests.ndxp.conftest import Http
from tests.ndxp.factories import make_tx

DOSSIERS = "QG.DVCQG.DONGBOHOSO"
DOCUMENTS = "QG.VBDT.GUINHAN"
LOOKUP = f"/ndxp/v1/services/{DOSSIERS}/transactions:lookup"


async def test_each_id_gets_its_first_receipt_or_none_and_nothing_is_delivered(
    client: NdxpClient, http: Http
) -> None:
    one, batched, never = make_tx(), make_tx(), make_tx()
    first = await client.submit(DOSSIERS, one)
    [second] = await client.submit_batch(DOSSIERS, [batched])
    assert isinstance(second, Receipt)

    found = await client.lookup_batch(
        DOSSIERS, [one.transaction_id, never.transaction_id, batched.transaction_id])

    assert found == [
        Receipt(one.transaction_id, DOSSIERS, first.receipt_id, False, first.received_at),
        None,
        Receipt(batched.transaction_id, DOSSIERS, second.receipt_id, False,
                second.received_at),
    ]
    stats = await http.stats()
    assert (stats["received"], stats["unique"], stats["duplicates"]) == (2, 2, 0)


async def test_a_service_without_batches_answers_bulk_lookups_too(client: NdxpClient) -> None:
    tx = make_tx()
    receipt = await client.submit(DOCUMENTS, tx)
    assert await client.lookup_batch(DOCUMENTS, [tx.transaction_id]) == [
        Receipt(tx.transaction_id, DOCUMENTS, receipt.receipt_id, False, receipt.received_at)]


async def test_no_ids_sends_no_request(client: NdxpClient) -> None:
    assert await client.lookup_batch(DOSSIERS, []) == []


@pytest.mark.parametrize(
    ("body", "names"),
    [({"transaction_ids": []}, "non-empty list"), ({"ids": ["x"]}, "non-empty list"),
     ({"transaction_ids": [f"id-{n}" for n in range(501)]}, "at most 500"),
     ({"transaction_ids": ["ok", 7]}, "item 1 must be a request id"),
     ({"transaction_ids": ["x" * 41]}, "item 0 must be a request id of 1 to 40")],
)
async def test_a_malformed_lookup_is_refused_whole_with_its_reason(
    http: Http, body: dict[str, object], names: str
) -> None:
    status, answer = await http.call("POST", LOOKUP, token=await http.token(), json=body)
    assert (status, answer["result_code"]) == (400, "DATA_INCORRECT")
    assert names in answer["message"]


async def test_unknown_service_is_rejected_and_down_is_transient(
    client: NdxpClient, http: Http
) -> None:
    with pytest.raises(RejectedError, match="SERVICE_UNKNOWN"):
        await client.lookup_batch("QG.NO.SUCH", ["some-id"])
    await http.faults(down=True)
    with pytest.raises(TransientForwardError, match="lookup of 1 transactions"):
        await client.lookup_batch(DOSSIERS, ["some-id"])
    assert (await http.stats())["received"] == 0
