"""Hold topics: where a national service's transactions wait while it is unavailable.

An outage of one service must cost nobody any work and delay no other service. So while
a service is unavailable (its breaker is not closed), every transaction for it is moved
to its own hold topic (`<prefix>hold.<service>`) instead of being retried to exhaustion
and dead-lettered; the source partition moves on, and other services' transactions in
it keep flowing. The hold topic is read by the router like any other, but its partitions
stay paused while the service is down, so the held transactions wait in Kafka, not in
memory, however long the outage lasts. When a probe gets an answer they flow again, in
order per business key (a hold topic is keyed like the source).

Per-key order also needs this: until a service's hold topic is drained (every held
record committed as final by the router group), new transactions for the service go to
the hold topic too, behind the ones already there, even after the service answers.
A transaction held longer than `router.hold_max_s` is dead-lettered, saying so.
"""

from __future__ import annotations

__all__ = ["Holds"]

import asyncio
import time

from gateway.errors import HoldExpiredError, KafkaError
from gateway.headers import H_HOLD_SINCE
from gateway.kafka import GroupConsumer, KafkaAdmin, Record, TopicPartition
from gateway.logs import get_logger
from gateway.metrics import HELD, HELD_OLDEST_AGE
from gateway.router.availability import ServiceAvailability
from gateway.router.breaker import CircuitState
from gateway.router.outcomes import STAGE_FORWARD, Failure, Outcome, mark_held
from gateway.topics import Topics

log = get_logger(__name__)


class Holds:
    """Which services' transactions are diverted to their hold topic; owns its check loop."""

    def __init__(
        self, *, topics: Topics, availability: ServiceAvailability, hold_max_s: float,
        consumer: GroupConsumer | None = None, admin: KafkaAdmin | None = None,
        group: str = "", interval_s: float = 1.0, enabled: bool = True,
    ) -> None:
        self.enabled = enabled
        self._topics = topics
        self._availability = availability
        self._hold_max_ms = int(hold_max_s * 1000)
        self._consumer = consumer
        self._admin = admin
        self._group = group
        self._interval_s = interval_s
        # Services whose hold topic may still hold something: new records queue behind.
        self._active: set[str] = set()
        self._first_held_ms: dict[str, int] = {}
        self._parked: dict[str, dict[int, int]] = {}
        self._reported: set[str] = set()
        self._paused: set[TopicPartition] = set()
        self._known_topics: set[str] = set()

    # -- decisions, on the hot path ----------------------------------------------------

    def diverts(self, service: str) -> bool:
        """Whether a new transaction for `service` goes to its hold topic, not the service."""
        return self.enabled and (service in self._active
                                 or not self._availability.available(service))

    def is_hold(self, topic: str) -> bool:
        """Whether a topic is a hold topic."""
        return topic.startswith(self._topics.hold_prefix)

    def since_ms(self, rec: Record) -> int:
        """When a held record was first held (epoch ms)."""
        raw = rec.header(H_HOLD_SINCE)
        if raw is not None and raw.isdigit():
            return int(raw)
        return rec.timestamp_ms

    def remaining_s(self, rec: Record) -> float:
        """How much longer a held record may wait for its service (negative: expired)."""
        return (self.since_ms(rec) + self._hold_max_ms - _now_ms()) / 1000

    @property
    def hold_max_s(self) -> float:
        """The cap on how long a transaction is held."""
        return self._hold_max_ms / 1000

    def held_back(self, outcome: Outcome, *, maybe_sent: bool) -> bool:
        """Whether a routed record does not go out now: held too long, or to be held."""
        service = outcome.service
        assert service is not None, "routed before it is held back"
        if self.is_hold(outcome.record.topic):
            if self.remaining_s(outcome.record) > 0:
                return False
            outcome.failure = Failure(STAGE_FORWARD, HoldExpiredError(
                f"held for national service {service} longer than router.hold_max_s "
                f"({self.hold_max_s:.0f} s) while it was unavailable; replay it once the "
                "service answers"), retriable=False)
            return True
        if self.diverts(service):
            # Behind the transactions already held for the service, in their order.
            mark_held(outcome, maybe_sent=maybe_sent)
            return True
        return False

    # -- what the dispatcher and the writer tell ------------------------------------------

    def held(self, service: str, since_ms: int) -> None:
        """A transaction was written to the service's hold topic."""
        self._active.add(service)
        self._first_held_ms.setdefault(service, since_ms)

    def parked(self, service: str, offset: int, since_ms: int) -> None:
        """A held record waits in memory for its service (only the few already fetched)."""
        self._parked.setdefault(service, {})[offset] = since_ms

    def unparked(self, service: str, offset: int) -> None:
        """A held record stopped waiting."""
        self._parked.get(service, {}).pop(offset, None)

    async def ensure_topic(self, service: str) -> None:
        """Create the service's hold topic if it does not exist yet."""
        name = self._topics.hold(service)
        if name in self._known_topics or self._admin is None:
            return
        await self._admin.ensure_topics([self._topics.hold_spec(service)])
        self._known_topics.add(name)

    # -- partitions ------------------------------------------------------------------------

    def on_change(self, service: str, state: CircuitState) -> None:
        """Pause a service's hold partitions while it is down; resume them when it answers."""
        if self._consumer is None:
            return
        mine = {tp for tp in self._consumer.assignment()
                if self._topics.held_service(tp.topic) == service}
        if state is CircuitState.OPEN:
            fresh = mine - self._paused
            if fresh:
                self._consumer.pause(fresh)
                self._paused |= fresh
        elif state is CircuitState.CLOSED:
            back = mine & self._paused
            if back:
                self._paused -= back
                self._consumer.resume(back)

    def resumable(self, partitions: set[TopicPartition]) -> set[TopicPartition]:
        """Of newly assigned partitions, those to fetch from now (not a down service's)."""
        keep: set[TopicPartition] = set()
        for tp in partitions:
            service = self._topics.held_service(tp.topic)
            if service is not None and not self._availability.available(service):
                self._paused.add(tp)
            else:
                keep.add(tp)
        return keep

    def revoked(self, partitions: set[TopicPartition]) -> None:
        """Forget revoked partitions."""
        self._paused -= partitions

    # -- the loop: drained yet? how many held, how old? --------------------------------------

    async def create_topics(self, services: set[str]) -> None:
        """Create the routed services' hold topics, so the subscription has them from the start.

        Before joining the group: created later, each would cost a rebalance.
        """
        for service in services:  # a series per routed service from the start: 0, not absent
            HELD.labels(service).set(0)
            HELD_OLDEST_AGE.labels(service).set(0)
        if self._admin is not None:
            await self._admin.ensure_topics(
                [self._topics.hold_spec(s) for s in sorted(services)])

    async def load(self) -> None:
        """At start: find the services whose hold topic is not drained yet.

        Retried while Kafka is unavailable (a fresh broker's group coordinator takes a few
        seconds): deciding before consuming is what keeps a key's order after a restart.
        """
        if self._admin is None:
            return
        attempt = 0
        while True:
            try:
                await self._load()
                return
            except KafkaError as exc:
                attempt += 1
                if not exc.retriable or attempt >= 30:
                    raise
                log.warning("cannot read the hold topics yet; retrying", error=str(exc))
                await asyncio.sleep(min(2.0, 0.1 * 2 ** attempt))

    async def _load(self) -> None:
        assert self._admin is not None
        names = {t for t in await self._admin.list_topics() if self.is_hold(t)}
        self._known_topics |= names
        committed: dict[TopicPartition, int] | None = None
        for name in sorted(names):
            service = self._topics.held_service(name)
            if service is None or not await self._has_records(name):
                continue
            if committed is None:  # only asked when something was ever held
                committed = await self._committed()
            if await self._backlog(service, committed) > 0:
                self._active.add(service)
                self._reported.add(service)
                log.info("held transactions found at start; they go first", service=service)

    async def _has_records(self, topic: str) -> bool:
        if self._admin is None or self._consumer is None:
            return False
        partitions = await self._admin.partitions(topic)
        ends = await self._consumer.end_offsets(partitions) if partitions else {}
        return any(end > 0 for end in ends.values())

    async def run(self) -> None:
        """Every interval: release drained services, and report held counts and ages."""
        while True:
            try:
                await self._check()
            except KafkaError as exc:
                log.warning("cannot check the hold topics yet", error=str(exc))
            await asyncio.sleep(self._interval_s)

    async def _check(self) -> None:
        # Only services that hold something (or did at the last look): no requests at all
        # for the others, which is nearly always all of them.
        watched = sorted(self._active | self._reported)
        if not watched:
            return
        committed = await self._committed()
        for service in watched:
            backlog = await self._backlog(service, committed)
            HELD.labels(service).set(backlog)
            if backlog:
                self._reported.add(service)
            else:
                self._reported.discard(service)
            if backlog == 0 and self._availability.available(service):
                if service in self._active:
                    log.info("hold topic drained; sending directly again", service=service)
                self._active.discard(service)
                self._first_held_ms.pop(service, None)
            oldest = self._oldest_ms(service) if backlog else None
            HELD_OLDEST_AGE.labels(service).set(
                0 if oldest is None else max(0.0, (_now_ms() - oldest) / 1000))

    def _oldest_ms(self, service: str) -> int | None:
        candidates = list(self._parked.get(service, {}).values())
        first = self._first_held_ms.get(service)
        if first is not None:
            candidates.append(first)
        return min(candidates) if candidates else None

    async def _committed(self) -> dict[TopicPartition, int]:
        if self._admin is None:
            return {}
        return await self._admin.group_offsets(self._group)

    async def _backlog(self, service: str, committed: dict[TopicPartition, int]) -> int:
        """Held records of the service not yet final for the router group (all partitions)."""
        if self._admin is None or self._consumer is None:
            return 0
        partitions = await self._admin.partitions(self._topics.hold(service))
        if not partitions:
            return 0
        ends = await self._consumer.end_offsets(partitions)
        return sum(max(0, end - committed.get(tp, 0)) for tp, end in ends.items())


def _now_ms() -> int:
    return time.time_ns() // 1_000_000
