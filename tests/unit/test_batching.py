"""Batch lanes with an in-memory national exchange: what goes in which request, the breaker."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime

import pytest

from gateway.errors import ForwardError, RejectedError, TransientForwardError
from gateway.ndxp import OutboundTransaction, Receipt
from gateway.ndxp.catalogue import BUILT_IN_CATALOGUE
from gateway.router.batching import BatchingExchange, batched_services
from gateway.router.breaker import CircuitBreaker
from gateway.router.meters import RouterMeters
from gateway.settings import BatchingSettings, BatchSettings

SERVICE = "QG.DVCQG.DONGBOHOSO"


def _tx(n: int) -> OutboundTransaction:
    return OutboundTransaction(
        transaction_id=f"tx-{n}", correlation_id=f"c-{n}", source_system="one-stop",
        source_agency_code="000.00.00.H12", message_type="onestop.dossier_event",
        schema_version=1, occurred_at=datetime.now(UTC), payload={"n": n})


class FakeNational:
    """A national side in memory: refuses odd ids in batches, or fails whole requests."""

    def __init__(self) -> None:
        self.batches: list[list[str]] = []
        self.lookups: list[list[str]] = []
        self.failing = False
        self.have: set[str] = set()

    async def submit(self, service: str, tx: OutboundTransaction) -> Receipt:
        raise AssertionError("a batched service is never sent one by one")

    async def lookup(self, service: str, transaction_id: str) -> Receipt | None:
        raise AssertionError("a batched service is never asked one by one")

    async def submit_batch(self, service: str,
                           txs: Sequence[OutboundTransaction]) -> list[Receipt | ForwardError]:
        self.batches.append([tx.transaction_id for tx in txs])
        await asyncio.sleep(0)
        if self.failing:
            raise TransientForwardError("timed out")
        results: list[Receipt | ForwardError] = []
        for tx in txs:
            if int(tx.transaction_id.split("-")[1]) % 2:
                results.append(RejectedError(f"refused {tx.transaction_id}", status=422))
            else:
                self.have.add(tx.transaction_id)
                results.append(Receipt(tx.transaction_id, service, f"r-{tx.transaction_id}",
                                       False, ""))
        return results

    async def lookup_batch(self, service: str, ids: Sequence[str]) -> list[Receipt | None]:
        self.lookups.append(list(ids))
        return [Receipt(i, service, f"r-{i}", False, "") if i in self.have else None
                for i in ids]


def _exchange(national: FakeNational, breaker: CircuitBreaker, **batch: float
              ) -> BatchingExchange:
    settings = BatchSettings(**batch)
    return BatchingExchange(national, batched={SERVICE: settings}, breaker=lambda _s: breaker,
                            meters=RouterMeters())


async def _submit_all(exchange: BatchingExchange, txs: list[OutboundTransaction]
                      ) -> list[Receipt | BaseException]:
    return await asyncio.gather(*(exchange.submit(SERVICE, tx) for tx in txs),
                                return_exceptions=True)


async def test_each_transaction_gets_its_own_outcome_from_a_shared_request() -> None:
    national, breaker = FakeNational(), CircuitBreaker(threshold=3, reset_s=60)
    exchange = _exchange(national, breaker, max_items=50, linger_ms=10)
    outcomes = await _submit_all(exchange, [_tx(n) for n in range(120)])
    await exchange.close()
    assert [len(b) for b in national.batches] == [50, 50, 20]
    assert all(isinstance(o, Receipt) for o in outcomes[0::2])
    assert [str(o) for o in outcomes[1:6:2]] == ["refused tx-1", "refused tx-3", "refused tx-5"]
    assert breaker.failures_in_a_row == 0  # refusals of data say the service is up


async def test_the_breaker_counts_failed_requests_not_transactions() -> None:
    national, breaker = FakeNational(), CircuitBreaker(threshold=3, reset_s=60)
    national.failing = True
    exchange = _exchange(national, breaker, max_items=100, linger_ms=10)
    outcomes = await _submit_all(exchange, [_tx(n) for n in range(200)])
    await exchange.close()
    assert all(isinstance(o, TransientForwardError) for o in outcomes)
    assert len(national.batches) == 2
    assert breaker.failures_in_a_row == 2  # two requests failed, not 200 transactions


async def test_lookups_are_asked_in_bulk() -> None:
    national, breaker = FakeNational(), CircuitBreaker(threshold=3, reset_s=60)
    national.have = {"tx-0", "tx-2"}
    exchange = _exchange(national, breaker, max_items=500, linger_ms=10)
    found = await asyncio.gather(*(exchange.lookup(SERVICE, f"tx-{n}") for n in range(4)))
    await exchange.close()
    assert national.lookups == [["tx-0", "tx-1", "tx-2", "tx-3"]]
    assert [f is not None for f in found] == [True, False, True, False]


async def test_a_transaction_given_up_before_its_request_is_not_sent() -> None:
    national, breaker = FakeNational(), CircuitBreaker(threshold=3, reset_s=60)
    exchange = _exchange(national, breaker, max_items=500, linger_ms=200)
    kept = asyncio.ensure_future(exchange.submit(SERVICE, _tx(0)))
    dropped = asyncio.ensure_future(exchange.submit(SERVICE, _tx(2)))
    await asyncio.sleep(0.01)
    dropped.cancel()
    assert isinstance(await kept, Receipt)
    await exchange.close()
    assert national.batches == [["tx-0"]]


def test_batched_services_follow_the_catalogue_and_the_settings() -> None:
    on = batched_services(BatchingSettings(), BUILT_IN_CATALOGUE)
    assert SERVICE in on
    assert "QG.VBDT.GUINHAN" not in on  # it takes no batches
    off = BatchingSettings(services={SERVICE: BatchSettings(enabled=False)})
    assert SERVICE not in batched_services(off, BUILT_IN_CATALOGUE)
    assert batched_services(BatchingSettings(enabled=False), BUILT_IN_CATALOGUE) == {}


@pytest.mark.parametrize("bad", [{"max_items": 0}, {"max_items": 501}, {"max_requests": 0}])
def test_batch_settings_refuse_impossible_sizes(bad: dict[str, int]) -> None:
    with pytest.raises(ValueError, match="max_"):
        BatchSettings(**bad)
