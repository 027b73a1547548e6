"""The router's forwarding decisions, in milliseconds, against a fake national exchange.

The fake is of the external system only (behind the `NationalExchange` protocol the
router's NDXP client implements): it keeps the transactions it has, like the real
national side, and answers each call from a script. Everything of ours is real: the
forwarder, its breakers, backoff, recent-deliveries memory and dead-letter headers.
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass, field

import pytest

from gateway.backoff import Backoff
from gateway.contracts import Codec, Envelope, SchemaRegistry
from gateway.errors import (
    CircuitOpenError,
    ForwardError,
    MalformedRecordError,
    NoRouteError,
    RejectedError,
    TransientForwardError,
)
from gateway.headers import H_EXCEPTION, H_MESSAGE, H_REPLAY, H_RETRIABLE, H_STAGE
from gateway.kafka import Record
from gateway.ndxp import OutboundTransaction, Receipt
from gateway.router.breaker import CircuitState
from gateway.router.forwarder import Abandoned, Forwarder
from gateway.router.outcomes import (
    STAGE_DECODE,
    STAGE_FORWARD,
    STAGE_ROUTE,
    Outcome,
    dead_letter_headers,
)
from gateway.router.routing import RoutingTable
from gateway.settings import RouterSettings, Settings
from gateway.topics import Topics
from tests.support.pipeline import dossier_envelope

CODEC = Codec(SchemaRegistry.load(Settings().schemas_dir))
TOPICS = Topics("lgsp.")
SERVICE = "QG.DVCQG.DONGBOHOSO"

# What the fake answers to one call: success, or an error to raise. TIMEOUT_BUT_STORED is
# an unanswered request that the national side nevertheless processed.
Answer = str | ForwardError

OK = "ok"
TIMEOUT_BUT_STORED = "timeout-but-stored"


@dataclass
class FakeNationalExchange:
    """The national side: it stores what it accepts, and fails as scripted."""

    submits: deque[Answer] = field(default_factory=deque)
    lookups: deque[Answer] = field(default_factory=deque)
    stored: dict[str, str] = field(default_factory=dict)
    calls: list[tuple[str, str]] = field(default_factory=list)

    async def submit(self, service: str, tx: OutboundTransaction) -> Receipt:
        self.calls.append(("submit", tx.transaction_id))
        answer = self.submits.popleft() if self.submits else OK
        if answer == TIMEOUT_BUT_STORED:
            self.stored.setdefault(tx.transaction_id, f"rc-{len(self.stored)}")
            raise TransientForwardError("no answer within 10 s")  # status None: unseen
        if isinstance(answer, ForwardError):
            raise answer
        duplicate = tx.transaction_id in self.stored
        receipt = self.stored.setdefault(tx.transaction_id, f"rc-{len(self.stored)}")
        return Receipt(tx.transaction_id, service, receipt, duplicate, "2026-12-04T00:00:00Z")

    async def lookup(self, service: str, transaction_id: str) -> Receipt | None:
        self.calls.append(("lookup", transaction_id))
        answer = self.lookups.popleft() if self.lookups else OK
        if isinstance(answer, ForwardError):
            raise answer
        found = self.stored.get(transaction_id)
        if found is None:
            return None
        return Receipt(transaction_id, service, found, True, "2026-12-04T00:00:00Z")

    def kinds(self) -> list[str]:
        return [kind for kind, _ in self.calls]


def forwarder(exchange: FakeNationalExchange, *, max_attempts: int = 5,
              breaker_threshold: int = 100, breaker_reset_s: float = 60.0,
              stopping: asyncio.Event | None = None) -> Forwarder:
    return Forwarder(
        codec=CODEC, routes=RoutingTable(RouterSettings().routes), exchange=exchange,
        topics=TOPICS, backoff=Backoff(0.001, 0.002), max_attempts=max_attempts,
        breaker_threshold=breaker_threshold, breaker_reset_s=breaker_reset_s,
        remembered_deliveries=1000, stopping=stopping,
    )


def record(n: int = 1, *, message_type: str = "onestop.dossier_event",
           headers: tuple[tuple[str, bytes], ...] = (), value: bytes | None = b"") -> Record:
    env = dossier_envelope(CODEC, n, message_type=message_type)
    body = env.encode(CODEC) if value == b"" else value
    return Record("lgsp.src.one-stop", 0, n, env.business_key.encode(), body, headers, 0)


def state_of(fwd: Forwarder) -> CircuitState:
    return fwd.breaker(SERVICE).state


def steps(outcome: Outcome) -> list[str]:
    return [a.result for a in outcome.attempts]


async def test_a_transaction_is_sent_once_and_delivered() -> None:
    exchange = FakeNationalExchange()
    outcome = await forwarder(exchange).process(record())
    assert outcome.delivered and outcome.service == SERVICE
    assert exchange.kinds() == ["submit"]
    assert steps(outcome) == ["delivered"]


async def test_server_errors_are_retried_until_delivered() -> None:
    exchange = FakeNationalExchange(submits=deque([
        TransientForwardError("503", status=503), TransientForwardError("502", status=502)]))
    outcome = await forwarder(exchange).process(record())
    assert outcome.delivered
    assert exchange.kinds() == ["submit", "submit", "submit"]  # answered: no lookup needed
    assert steps(outcome) == ["TransientForwardError", "TransientForwardError", "delivered"]


async def test_a_refusal_is_not_retried_and_dead_letters_with_its_reason() -> None:
    exchange = FakeNationalExchange(submits=deque([
        RejectedError("DATA_INCORRECT: applicant missing", status=422)]))
    outcome = await forwarder(exchange).process(record())
    assert not outcome.delivered and exchange.kinds() == ["submit"]
    assert outcome.failure is not None
    assert outcome.failure.stage == STAGE_FORWARD and not outcome.failure.retriable
    headers = dict(dead_letter_headers(outcome))
    assert headers[H_EXCEPTION].endswith(b"RejectedError")
    assert headers[H_MESSAGE] == b"DATA_INCORRECT: applicant missing"
    assert headers[H_STAGE] == STAGE_FORWARD.encode()
    assert headers[H_RETRIABLE] == b"false"


async def test_a_spent_retry_budget_dead_letters_as_retriable() -> None:
    exchange = FakeNationalExchange(submits=deque(
        [TransientForwardError("503", status=503)] * 3))
    outcome = await forwarder(exchange, max_attempts=3).process(record())
    assert not outcome.delivered and exchange.kinds() == ["submit"] * 3
    assert outcome.failure is not None and outcome.failure.retriable
    assert isinstance(outcome.failure.error, TransientForwardError)


async def test_after_an_unanswered_send_the_next_attempt_looks_up_instead_of_resending() -> None:
    exchange = FakeNationalExchange(submits=deque([TIMEOUT_BUT_STORED]))
    outcome = await forwarder(exchange).process(record())
    assert outcome.delivered
    assert exchange.kinds() == ["submit", "lookup"]  # found there: never sent twice
    assert steps(outcome) == ["TransientForwardError", "recovered"]


async def test_after_an_unanswered_send_that_was_lost_the_lookup_clears_the_way() -> None:
    exchange = FakeNationalExchange(submits=deque([TransientForwardError("timeout")]))
    outcome = await forwarder(exchange).process(record())
    assert outcome.delivered
    assert exchange.kinds() == ["submit", "lookup", "submit"]
    assert not outcome.duplicate_at_endpoint


async def test_doubt_is_sticky_until_a_lookup_answers() -> None:
    # Unanswered send, then two failed lookups: nothing is sent until one answers "absent".
    exchange = FakeNationalExchange(
        submits=deque([TransientForwardError("timeout")]),
        lookups=deque([TransientForwardError("503", status=503),
                       TransientForwardError("timeout")]))
    outcome = await forwarder(exchange).process(record())
    assert outcome.delivered
    assert exchange.kinds() == ["submit", "lookup", "lookup", "lookup", "submit"]


async def test_doubt_survives_an_answered_failure() -> None:
    # A 503 answer to a lookup is not "absent": the next attempt looks up again, not sends.
    exchange = FakeNationalExchange(
        submits=deque([TIMEOUT_BUT_STORED]),
        lookups=deque([TransientForwardError("503", status=503)]))
    outcome = await forwarder(exchange).process(record())
    assert outcome.delivered and exchange.kinds() == ["submit", "lookup", "lookup"]
    assert steps(outcome)[-1] == "recovered"


async def test_reconcile_first_looks_up_before_any_send() -> None:
    exchange = FakeNationalExchange()
    rec = record()
    # A previous owner sent it unseen: the national side has it.
    exchange.stored[_transaction_id(rec)] = "rc-earlier"
    outcome = await forwarder(exchange).process(rec, reconcile_first=True)
    assert outcome.delivered and outcome.receipt_id == "rc-earlier"
    assert exchange.kinds() == ["lookup"]


async def test_a_replayed_record_is_always_reconciled_first() -> None:
    exchange = FakeNationalExchange()
    outcome = await forwarder(exchange).process(record(headers=((H_REPLAY, b"rp-1"),)))
    assert outcome.delivered and outcome.replay_id == "rp-1"
    assert exchange.kinds() == ["lookup", "submit"]


async def test_a_transaction_delivered_recently_is_answered_from_memory() -> None:
    exchange = FakeNationalExchange()
    fwd = forwarder(exchange)
    rec = record()
    await fwd.process(rec)
    again = await fwd.process(rec)  # re-published by a connector after a crash
    assert again.delivered and steps(again) == ["already-delivered"]
    assert exchange.kinds() == ["submit"]


async def test_the_breaker_opens_and_then_nothing_is_sent() -> None:
    exchange = FakeNationalExchange(submits=deque(
        [TransientForwardError("503", status=503)] * 3))
    fwd = forwarder(exchange, max_attempts=3, breaker_threshold=3)
    first = await fwd.process(record(1))
    assert not first.delivered and fwd.breaker(SERVICE).state is CircuitState.OPEN
    second = await fwd.process(record(2))
    assert exchange.kinds() == ["submit"] * 3  # the second was never sent
    assert second.failure is not None and isinstance(second.failure.error, CircuitOpenError)
    assert steps(second) == ["CircuitOpenError"] * 3


async def test_half_open_lets_one_probe_through_and_a_success_closes_it() -> None:
    exchange = FakeNationalExchange(submits=deque(
        [TransientForwardError("503", status=503)] * 2))
    fwd = forwarder(exchange, max_attempts=2, breaker_threshold=2, breaker_reset_s=0.02)
    await fwd.process(record(1))
    breaker = fwd.breaker(SERVICE)
    assert state_of(fwd) is CircuitState.OPEN
    await asyncio.sleep(0.03)
    assert breaker.allow() and state_of(fwd) is CircuitState.HALF_OPEN
    assert not breaker.allow()  # one probe at a time
    breaker.record_success()
    outcome = await fwd.process(record(2))
    assert outcome.delivered and state_of(fwd) is CircuitState.CLOSED


async def test_a_failed_probe_opens_the_breaker_again() -> None:
    exchange = FakeNationalExchange(submits=deque(
        [TransientForwardError("503", status=503)] * 3))
    fwd = forwarder(exchange, max_attempts=2, breaker_threshold=2, breaker_reset_s=0.02)
    await fwd.process(record(1))
    await asyncio.sleep(0.03)
    outcome = await fwd.process(record(2))  # the probe fails; the retry finds it open
    assert fwd.breaker(SERVICE).state is CircuitState.OPEN
    assert steps(outcome) == ["TransientForwardError", "CircuitOpenError"]


async def test_a_refusal_does_not_count_against_the_service() -> None:
    exchange = FakeNationalExchange(submits=deque(
        [RejectedError("DATA_INCORRECT", status=422)] * 3))
    fwd = forwarder(exchange, breaker_threshold=2)
    for n in range(3):
        await fwd.process(record(n))
    assert fwd.breaker(SERVICE).state is CircuitState.CLOSED


async def test_an_undecodable_record_dead_letters_at_the_decode_stage() -> None:
    exchange = FakeNationalExchange()
    outcome = await forwarder(exchange).process(record(value=b"\x00garbage"))
    assert outcome.failure is not None and outcome.failure.stage == STAGE_DECODE
    assert not exchange.calls
    empty = await forwarder(exchange).process(record(value=None))
    assert empty.failure is not None and isinstance(empty.failure.error, MalformedRecordError)


async def test_an_unroutable_message_type_dead_letters_at_the_route_stage() -> None:
    exchange = FakeNationalExchange()
    outcome = await forwarder(exchange).process(record(message_type="radio.licence"))
    assert outcome.failure is not None and outcome.failure.stage == STAGE_ROUTE
    assert isinstance(outcome.failure.error, NoRouteError) and not exchange.calls


async def test_a_stopping_router_abandons_a_transaction_waiting_to_retry() -> None:
    stopping = asyncio.Event()
    exchange = FakeNationalExchange(submits=deque([TransientForwardError("503", status=503)]))
    fwd = forwarder(exchange, stopping=stopping)
    stopping.set()
    with pytest.raises(Abandoned):
        await fwd.process(record())
    assert exchange.kinds() == ["submit"]


def _transaction_id(rec: Record) -> str:
    assert rec.value is not None
    return Envelope.decode(CODEC, rec.value).transaction_id
