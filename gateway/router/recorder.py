"""Writing a transaction's final outcome: the ledger record (and dead letter), then metrics.

An outcome is final only once it is durable: the router's offsets move past a record
only after this returned, so a crash between the decision and the write loses nothing.
"""

from __future__ import annotations

__all__ = ["OutcomeWriter"]

import asyncio
import time

from gateway.contracts import Codec
from gateway.errors import KafkaError
from gateway.kafka import Producer
from gateway.logs import get_logger
from gateway.metrics import DEAD_LETTERED, OUTCOME_DEAD_LETTERED, OUTCOME_HELD
from gateway.router.holds import Holds
from gateway.router.meters import RouterMeters
from gateway.router.outcomes import (
    LEDGER_SCHEMA,
    Outcome,
    dead_letter_headers,
    encode_ledger,
    hold_headers,
)
from gateway.topics import Topics

log = get_logger(__name__)


class OutcomeWriter:
    """Produces each outcome's ledger record (and dead letter), retrying while Kafka is down."""

    def __init__(self, *, codec: Codec, producer: Producer, topics: Topics,
                 meters: RouterMeters, holds: Holds) -> None:
        self._holds = holds
        self._codec = codec
        self._producer = producer
        self._topics = topics
        self._meters = meters
        self._ledger_schema = codec.registry.latest(LEDGER_SCHEMA)

    async def write(self, outcome: Outcome) -> None:
        """Write the outcome durably (retrying while Kafka is unavailable), then count it."""
        ledger_value = encode_ledger(self._codec, self._ledger_schema, outcome)
        key = (outcome.transaction_id or "").encode() or None
        attempt = 0
        while True:
            try:
                if outcome.failure is None:
                    # The common case awaits its one acknowledgement directly: a gather
                    # costs more than the rest of this method.
                    ack = await self._producer.send(self._topics.ledger, ledger_value, key=key)
                    await ack
                else:
                    acks = [
                        await self._producer.send(
                            self._topics.dead_letter, outcome.record.value,
                            key=outcome.record.key, headers=dead_letter_headers(outcome)),
                        await self._producer.send(self._topics.ledger, ledger_value, key=key),
                    ]
                    await asyncio.gather(*acks)
                break
            except KafkaError as exc:
                attempt += 1
                log.warning("writing outcome failed; retrying", error=str(exc), attempt=attempt,
                            transaction_id=outcome.transaction_id)
                await asyncio.sleep(min(5.0, 0.2 * 2 ** min(attempt, 5)))
        self._count(outcome)

    async def hold(self, outcome: Outcome) -> None:
        """Move a transaction to its service's hold topic (acknowledged) while it is down."""
        service = outcome.service
        assert service is not None, "a held outcome names its service"
        since_ms = _now_ms()
        headers = hold_headers(outcome, since_ms)
        attempt = 0
        while True:
            try:
                await self._holds.ensure_topic(service)
                ack = await self._producer.send(self._topics.hold(service), outcome.record.value,
                                                key=outcome.record.key, headers=headers)
                await ack
                break
            except KafkaError as exc:
                attempt += 1
                log.warning("holding a transaction failed; retrying", error=str(exc),
                            attempt=attempt, transaction_id=outcome.transaction_id)
                await asyncio.sleep(min(5.0, 0.2 * 2 ** min(attempt, 5)))
        self._holds.held(service, since_ms)
        self._meters.transactions(outcome.connector, service, OUTCOME_HELD).inc()

    def _count(self, outcome: Outcome) -> None:
        service = outcome.service or "unknown"
        meters = self._meters
        if outcome.delivered:
            meters.delivered(outcome.connector, service).inc()
            latency = outcome.latency_ms
            if latency is not None:
                meters.end_to_end(outcome.connector, service).observe(latency / 1000)
            return
        assert outcome.failure is not None
        reason = type(outcome.failure.error).__name__
        meters.transactions(outcome.connector, service, OUTCOME_DEAD_LETTERED).inc()
        DEAD_LETTERED.labels(outcome.connector, service, reason).inc()
        log.warning("transaction dead-lettered", transaction_id=outcome.transaction_id,
                    correlation_id=outcome.correlation_id, connector=outcome.connector,
                    service=outcome.service, reason=reason,
                    error=str(outcome.failure.error), attempts=len(outcome.attempts))


def _now_ms() -> int:
    return time.time_ns() // 1_000_000
