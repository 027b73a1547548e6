"""The router's forwarding decisions, in milliseconds, against a fake national exchange.

The fake is of the external system only (behind the `NationalExchange` protocol the
router's NDXP client implements): it keeps the transactions it has, like the real
national side, and answers each call from a script. Everything of ours is real: the
forwarder, its breakers, backoff, recent-deliveries memory and dead-letter headers.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from gateway.backoff import Backoff
from gateway.contracts import Codec, Envelope, SchemaRegistry
from gateway.errors import (
    ForwardError,
    HoldExpiredError,
    MalformedRecordError,
    NoRouteError,
    RejectedError,
    TransientForwardError,
)
from gateway.headers import (
    H_EXCEPTION,
    H_HOLD_RECONCILE,
    H_HOLD_SINCE,
    H_MESSAGE,
    H_REPLAY,
    H_RETRIABLE,
    H_STAGE,
)
from gateway.kafka import Record
from gateway.ndxp import OutboundTransaction, Receipt
from gateway.router.availability import PROBE_TRANSACTION_ID, ServiceAvailability
from gateway.router.breaker import CircuitBreaker, CircuitState
from gateway.router.forwarder import Abandoned, Forwarder
from gateway.router.outcomes import (
    STAGE_DECODE,
    STAGE_FORWARD,
    STAGE_ROUTE,
    Outcome,
    dead_letter_headers,
    hold_headers,
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
    on_submit: Callable[[], None] = lambda: None

    async def submit(self, service: str, tx: OutboundTransaction) -> Receipt:
        self.calls.append(("submit", tx.transaction_id))
        self.on_submit()
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
              stopping: asyncio.Event | None = None, backoff: Backoff | None = None,
              hold_max_s: float = 3600.0) -> Forwarder:
    return Forwarder(
        codec=CODEC, routes=RoutingTable(RouterSettings().routes), exchange=exchange,
        topics=TOPICS, backoff=backoff or Backoff(0.001, 0.002), max_attempts=max_attempts,
        breaker_threshold=breaker_threshold, breaker_reset_s=breaker_reset_s,
        remembered_deliveries=1000, stopping=stopping, hold_max_s=hold_max_s,
    )


def record(n: int = 1, *, message_type: str = "onestop.dossier_event",
           headers: tuple[tuple[str, bytes], ...] = (), value: bytes | None = b"",
           topic: str = "lgsp.src.one-stop", timestamp_ms: int | None = None) -> Record:
    env = dossier_envelope(CODEC, n, message_type=message_type)
    body = env.encode(CODEC) if value == b"" else value
    stamp = time.time_ns() // 1_000_000 if timestamp_ms is None else timestamp_ms
    return Record(topic, 0, n, env.business_key.encode(), body, headers, stamp)


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


async def test_a_spent_retry_budget_dead_letters_while_the_service_answers_others() -> None:
    first_failure = asyncio.Event()
    exchange = FakeNationalExchange(submits=deque(
        [TransientForwardError("503", status=503)] * 3))
    exchange.on_submit = first_failure.set
    fwd = forwarder(exchange, max_attempts=3, backoff=Backoff(0.02, 0.04))
    other = FakeNationalExchange()  # the same service answers another transaction

    async def meanwhile() -> Outcome:
        await first_failure.wait()
        fwd_other = fwd
        fwd_other._exchange = other
        try:
            return await fwd_other.process(record(2))
        finally:
            fwd_other._exchange = exchange
    # Sequential on purpose: the other delivery lands inside the first one's backoff.
    task = asyncio.ensure_future(meanwhile())
    outcome = await fwd.process(record(1))
    assert (await task).delivered
    assert not outcome.delivered and not outcome.held
    assert outcome.failure is not None and outcome.failure.retriable
    assert isinstance(outcome.failure.error, TransientForwardError)


async def test_a_spent_retry_budget_with_nobody_answered_is_held_not_dead_lettered() -> None:
    exchange = FakeNationalExchange(submits=deque(
        [TransientForwardError("503", status=503)] * 3))
    outcome = await forwarder(exchange, max_attempts=3).process(record())
    assert outcome.held and outcome.failure is None and not outcome.delivered
    assert exchange.kinds() == ["submit"] * 3


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


async def test_an_open_breaker_holds_transactions_instead_of_sending_them() -> None:
    exchange = FakeNationalExchange(submits=deque(
        [TransientForwardError("503", status=503)] * 3))
    fwd = forwarder(exchange, max_attempts=5, breaker_threshold=3)
    first = await fwd.process(record(1))
    assert first.held and state_of(fwd) is CircuitState.OPEN
    second = await fwd.process(record(2))
    assert second.held and second.failure is None and second.attempts == []
    assert exchange.kinds() == ["submit"] * 3  # the second was never sent


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_half_open_lets_one_probe_through_and_a_success_closes_it() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(2, 1.0, clock=clock, reset_max_s=8.0)
    breaker.record_failure()
    breaker.record_failure()
    assert _state(breaker) is CircuitState.OPEN and not breaker.allow()
    clock.now += 1.0
    assert breaker.allow() and _state(breaker) is CircuitState.HALF_OPEN
    assert not breaker.allow()  # one probe at a time
    breaker.record_success()
    assert _state(breaker) is CircuitState.CLOSED and breaker.allow()


def _state(breaker: CircuitBreaker) -> CircuitState:
    return breaker.state


def test_each_failed_probe_doubles_the_wait_up_to_the_ceiling() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(1, 1.0, clock=clock, reset_max_s=4.0)
    breaker.record_failure()
    waits = []
    for _ in range(4):
        waits.append(breaker.open_for_s())
        clock.now += waits[-1]
        assert breaker.allow()
        breaker.record_failure()  # the probe failed
    assert waits == [1.0, 2.0, 4.0, 4.0]
    clock.now += 4.0
    assert breaker.allow()
    breaker.record_success()
    breaker.record_failure()
    assert breaker.open_for_s() == 1.0  # a success starts the backoff again


async def test_nothing_but_the_prober_reaches_a_service_whose_breaker_is_open() -> None:
    exchange = FakeNationalExchange(
        submits=deque([TransientForwardError("503", status=503)] * 2),
        lookups=deque([TransientForwardError("503", status=503)] * 100))
    fwd = forwarder(exchange, max_attempts=2, breaker_threshold=2, breaker_reset_s=0.01)
    try:
        await fwd.process(record(1))
        await asyncio.sleep(0.2)
        outcomes = [await fwd.process(record(n)) for n in range(2, 6)]
    finally:
        await fwd.availability.stop()
    assert all(o.held and not o.attempts for o in outcomes)
    assert exchange.kinds()[:2] == ["submit", "submit"]
    assert set(exchange.kinds()[2:]) == {"lookup"}  # probes only, never a transaction
    probes = len(exchange.kinds()) - 2
    assert 1 <= probes <= 5  # backing off: 10, 20, 40, 80 ms...


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


HOLD_TOPIC = TOPICS.hold(SERVICE)


async def test_a_held_copy_is_sent_when_its_service_answers() -> None:
    exchange = FakeNationalExchange()
    outcome = await forwarder(exchange).process(record(topic=HOLD_TOPIC))
    assert outcome.delivered and exchange.kinds() == ["submit"]


async def test_a_held_copy_that_may_have_been_sent_is_looked_up_first() -> None:
    exchange = FakeNationalExchange(submits=deque([TIMEOUT_BUT_STORED]),
                                    lookups=deque([TransientForwardError("503", status=503)]))
    fwd = forwarder(exchange, max_attempts=3, breaker_threshold=2)
    held = await fwd.process(record(1))
    assert held.held and held.maybe_sent  # unanswered, then the service went down
    headers = tuple(hold_headers(held, since_ms=time.time_ns() // 1_000_000))
    assert (H_HOLD_RECONCILE, b"1") in headers
    copy = Record(HOLD_TOPIC, 0, 7, held.record.key, held.record.value, headers, 1)
    exchange2 = FakeNationalExchange(stored=dict(exchange.stored))
    outcome = await forwarder(exchange2).process(copy)
    assert outcome.delivered and exchange2.kinds() == ["lookup"]  # found: not sent twice


async def test_a_copy_held_longer_than_the_cap_is_dead_lettered_saying_so() -> None:
    exchange = FakeNationalExchange()
    old = time.time_ns() // 1_000_000 - 10_000
    outcome = await forwarder(exchange, hold_max_s=5).process(
        record(topic=HOLD_TOPIC, headers=((H_HOLD_SINCE, str(old).encode()),)))
    assert outcome.failure is not None and not exchange.calls
    assert isinstance(outcome.failure.error, HoldExpiredError)
    assert "router.hold_max_s" in str(outcome.failure.error)


async def test_new_transactions_queue_behind_held_ones_until_the_hold_drains() -> None:
    exchange = FakeNationalExchange()
    fwd = forwarder(exchange)
    fwd.holds.held(SERVICE, since_ms=1)  # something of this service waits in its hold topic
    outcome = await fwd.process(record(1))
    assert outcome.held and not exchange.calls
    other = await fwd.process(record(2, message_type="ioffice.document"))
    assert other.failure is not None  # a dossier body under another type: refused, not held


async def test_probes_back_off_until_the_service_answers_then_release_waiters() -> None:
    exchange = FakeNationalExchange(
        lookups=deque([TransientForwardError("503", status=503)] * 2))
    availability = ServiceAvailability(exchange=exchange, threshold=1, reset_s=0.01,
                                       reset_max_s=0.04)
    availability.breaker(SERVICE).record_failure()  # down: a prober starts
    assert not availability.available(SERVICE)
    try:
        assert await availability.wait_available(SERVICE, timeout_s=2.0)
    finally:
        await availability.stop()
    probes = [tx for kind, tx in exchange.calls if kind == "lookup"]
    assert probes == [PROBE_TRANSACTION_ID] * 3  # two refused, the third answered


async def test_with_holding_off_an_outage_dead_letters_after_the_budget() -> None:
    exchange = FakeNationalExchange(submits=deque(
        [TransientForwardError("503", status=503)] * 3))
    fwd = Forwarder(
        codec=CODEC, routes=RoutingTable(RouterSettings().routes), exchange=exchange,
        topics=TOPICS, backoff=Backoff(0.001, 0.002), max_attempts=3, breaker_threshold=2,
        breaker_reset_s=60.0, remembered_deliveries=10, hold_enabled=False)
    try:
        outcome = await fwd.process(record())
    finally:
        await fwd.availability.stop()
    assert not outcome.held and outcome.failure is not None
    assert steps(outcome) == ["TransientForwardError", "TransientForwardError",
                              "CircuitOpenError"]
