"""Pure parts of the router: routing table, backoff, circuit breaker, offset tracking."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest

from gateway.backoff import Backoff
from gateway.errors import NoRouteError, RejectedError
from gateway.headers import (
    H_ATTEMPTS,
    H_CONNECTOR,
    H_EXCEPTION,
    H_MESSAGE,
    H_OFFSET,
    H_PARTITION,
    H_STAGE,
    H_TOPIC,
)
from gateway.kafka import Record
from gateway.router.breaker import CircuitBreaker, CircuitState
from gateway.router.leases import Lease, SendLeases, parse_lease, running
from gateway.router.offsets import OffsetTracker
from gateway.router.outcomes import STAGE_FORWARD, Attempt, Failure, Outcome, dead_letter_headers
from gateway.router.recent import RecentDeliveries
from gateway.router.routing import RoutingTable
from gateway.settings import RouteRule


def test_routing_prefers_explicit_target_then_source_specific_rule() -> None:
    table = RoutingTable([
        RouteRule(message_type="a.doc", service="QG.GENERIC"),
        RouteRule(message_type="a.doc", source_system="ioffice", service="QG.SPECIFIC"),
    ])
    assert table.resolve("a.doc", "other") == "QG.GENERIC"
    assert table.resolve("a.doc", "ioffice") == "QG.SPECIFIC"
    assert table.resolve("a.doc", "ioffice", "QG.EXPLICIT") == "QG.EXPLICIT"
    with pytest.raises(NoRouteError, match=r"no route for message type 'b\.doc'"):
        table.resolve("b.doc", "ioffice")


def test_backoff_grows_exponentially_within_jitter_and_is_capped() -> None:
    backoff = Backoff(initial_s=0.2, max_s=5.0)
    rng = random.Random(7)
    for attempt, ceiling in [(1, 0.2), (2, 0.4), (3, 0.8), (6, 5.0), (20, 5.0)]:
        for _ in range(50):
            delay = backoff.delay(attempt, rng)
            assert ceiling / 10 <= delay <= ceiling


def _state(breaker: CircuitBreaker) -> CircuitState:
    # A call, so the type checker does not narrow the attribute between transitions.
    return breaker.state


def test_breaker_opens_after_threshold_and_probes_after_reset() -> None:
    now = [0.0]
    seen: list[CircuitState] = []  # what the lgsp_circuit_state gauge is told
    breaker = CircuitBreaker(threshold=3, reset_s=10, clock=lambda: now[0], on_change=seen.append)
    for _ in range(2):
        breaker.record_failure()
    assert breaker.allow() and _state(breaker) is CircuitState.CLOSED
    breaker.record_failure()
    assert _state(breaker) is CircuitState.OPEN and not breaker.allow()
    now[0] = 10.0
    assert breaker.allow()  # the single half-open probe
    assert _state(breaker) is CircuitState.HALF_OPEN and not breaker.allow()
    breaker.record_failure()
    assert _state(breaker) is CircuitState.OPEN
    now[0] = 20.0
    assert breaker.allow()
    breaker.record_success()
    assert _state(breaker) is CircuitState.CLOSED and breaker.allow()
    assert seen == [CircuitState.CLOSED, CircuitState.OPEN, CircuitState.HALF_OPEN,
                    CircuitState.OPEN, CircuitState.HALF_OPEN, CircuitState.CLOSED]


def test_commit_point_only_advances_over_finished_prefix() -> None:
    tracker = OffsetTracker()
    for off in (10, 11, 12, 13):
        tracker.add("t", 0, off)
    tracker.finish("t", 0, 12)
    tracker.finish("t", 0, 11)
    assert tracker.committable() == {("t", 0): 10}  # 10 still running: nothing past it
    tracker.finish("t", 0, 10)
    assert tracker.committable() == {("t", 0): 13}
    tracker.mark_committed({("t", 0): 13})
    assert tracker.committable() == {}
    assert tracker.outstanding == 1
    tracker.finish("t", 0, 13)
    assert tracker.committable() == {("t", 0): 14}
    assert tracker.outstanding == 0


def test_dead_letter_headers_use_kafka_connect_names() -> None:
    rec = Record("lgsp.src.ioffice", 2, 41, b"k", b"v", (("keep", b"1"),), 0)
    at = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    outcome = Outcome(
        record=rec, connector="ioffice", transaction_id="tx-1", service="QG.X", delivered=False,
        attempts=[Attempt(at, 1.0, "RejectedError", 400, "DATA_INCORRECT")],
        failure=Failure(STAGE_FORWARD, RejectedError("DATA_INCORRECT: subject", status=400),
                        retriable=False, status=400),
    )
    headers = dict(dead_letter_headers(outcome))
    assert headers["keep"] == b"1"
    assert headers[H_TOPIC] == b"lgsp.src.ioffice"
    assert headers[H_PARTITION] == b"2"
    assert headers[H_OFFSET] == b"41"
    assert headers[H_CONNECTOR] == b"ioffice"
    assert headers[H_STAGE] == b"TASK_PUT"
    assert headers[H_EXCEPTION] == b"gateway.errors.RejectedError"
    assert headers[H_MESSAGE] == b"DATA_INCORRECT: subject"
    assert headers[H_ATTEMPTS] == b"1"


def test_recent_deliveries_stay_within_capacity_and_keep_the_newest() -> None:
    recent = RecentDeliveries(1_000)
    for n in range(10_000):
        recent.add(f"tx-{n}", f"r-{n}")
        assert len(recent) <= 1_000
    assert len(recent) >= 500
    assert recent.get("tx-9999") == "r-9999"
    assert recent.get("tx-9500") == "r-9500"  # the last half of the capacity is always kept
    assert recent.get("tx-0") is None


def test_recent_deliveries_with_no_capacity_remember_nothing() -> None:
    recent = RecentDeliveries(0)
    recent.add("tx-1", "r-1")
    assert recent.get("tx-1") is None
    assert len(recent) == 0


@pytest.mark.parametrize(("metadata", "lease"), [
    ("clean", Lease(clean=True, limit=None)),
    (running(1234), Lease(clean=False, limit=1234)),
    ("running", Lease(clean=False, limit=None)),  # an older owner: anything may be sent
    ("", Lease(clean=False, limit=None)),
    ("running:-5", Lease(clean=False, limit=None)),
])
def test_a_commits_metadata_says_how_far_its_owner_may_have_sent(
    metadata: str, lease: Lease
) -> None:
    assert parse_lease(metadata) == lease


async def test_leases_allow_only_below_a_committed_limit_and_never_shrink() -> None:
    leases = SendLeases(headroom=10)
    tp = ("t", 0)
    assert not leases.allows(tp, 0)  # nothing declared yet: nothing may be sent
    leases.inherit(tp, 500)  # the previous owner may have sent below 500
    assert leases.proposal(tp, highest_dispatched=3) == 500
    leases.landed({tp: leases.proposal(tp, highest_dispatched=3)})
    assert leases.allows(tp, 499) and not leases.allows(tp, 500)
    assert leases.proposal(tp, highest_dispatched=600) == 611
    assert leases.declared(tp) == 500
    leases.forget({tp})
    assert not leases.allows(tp, 0)
