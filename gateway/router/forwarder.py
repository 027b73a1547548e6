"""One transaction's attempt chain: decode, route, submit with retries, decide the outcome.

Retries (exponential backoff with jitter) are for timeouts, connection errors and 5xx;
4xx, no route and undecodable records are dead-lettered at once. When an earlier attempt
may have reached the national side without us seeing the answer (a timeout, a dropped
connection), or the record may have been sent by a previous router that crashed, the
next attempt first asks the national side whether it already has the transaction, so
it is not sent twice.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Protocol

from gateway.backoff import Backoff
from gateway.contracts import Codec, Envelope
from gateway.errors import (
    CircuitOpenError,
    ContractError,
    ForwardError,
    MalformedRecordError,
    NoRouteError,
)
from gateway.headers import H_CONNECTOR, H_REPLAY
from gateway.kafka import Record
from gateway.metrics import (
    CIRCUIT_STATE,
    RECONCILE_ABSENT,
    RECONCILE_FAILED,
    RECONCILE_FOUND,
)
from gateway.ndxp import OutboundTransaction, Receipt
from gateway.router.breaker import CircuitBreaker
from gateway.router.meters import RouterMeters
from gateway.router.outcomes import (
    STAGE_DECODE,
    STAGE_FORWARD,
    STAGE_ROUTE,
    Attempt,
    Failure,
    Outcome,
)
from gateway.router.recent import RecentDeliveries
from gateway.router.routing import RoutingTable
from gateway.topics import Topics


class Abandoned(Exception):  # noqa: N818 - a control-flow signal, not an error
    """The router is stopping while this transaction waits to retry: leave it uncommitted.

    Its offset is not committed, so the next owner picks it up (and reconciles it first).
    """


class NationalExchange(Protocol):
    """What the router needs from the NDXP client."""

    async def submit(self, service: str, tx: OutboundTransaction) -> Receipt:
        """Deliver one transaction; raises ForwardError subclasses."""

    async def lookup(self, service: str, transaction_id: str) -> Receipt | None:
        """The receipt if the national side already has this transaction, else None."""


class Forwarder:
    """Turns a consumed record into a final Outcome."""

    def __init__(
        self,
        *,
        codec: Codec,
        routes: RoutingTable,
        exchange: NationalExchange,
        topics: Topics,
        backoff: Backoff,
        max_attempts: int,
        breaker_threshold: int,
        breaker_reset_s: float,
        remembered_deliveries: int,
        stopping: asyncio.Event | None = None,
        meters: RouterMeters | None = None,
    ) -> None:
        self._stopping = stopping or asyncio.Event()
        self.meters = meters or RouterMeters()
        self._codec = codec
        self._routes = routes
        self._exchange = exchange
        self._topics = topics
        self._backoff = backoff
        self._max_attempts = max_attempts
        self._breaker_threshold = breaker_threshold
        self._breaker_reset_s = breaker_reset_s
        self.breakers: dict[str, CircuitBreaker] = {}
        self._delivered = RecentDeliveries(remembered_deliveries)
        self._source_prefix = f"{topics.prefix}src."

    def breaker(self, service: str) -> CircuitBreaker:
        """The circuit breaker of one national service."""
        found = self.breakers.get(service)
        if found is None:
            gauge = CIRCUIT_STATE.labels(service)
            found = self.breakers[service] = CircuitBreaker(
                self._breaker_threshold, self._breaker_reset_s,
                on_change=lambda state: gauge.set(int(state)),
            )
        return found

    def connector_of(self, rec: Record) -> str:
        """The connector a record came from, even when it cannot be decoded."""
        if rec.topic.startswith(self._source_prefix):
            return rec.topic[len(self._source_prefix):]
        named = rec.header(H_CONNECTOR)
        return named.decode(errors="replace") if named else "unknown"

    async def process(self, rec: Record, *, reconcile_first: bool = False) -> Outcome:
        """The outcome of one record; never raises for problems with the record itself."""
        replay = rec.header(H_REPLAY)
        outcome = Outcome(
            record=rec, connector=self.connector_of(rec), transaction_id=None, service=None,
            delivered=False, replay_id=replay.decode() if replay else None,
        )
        try:
            if rec.value is None:
                raise MalformedRecordError("record has no value")
            env = Envelope.decode(self._codec, rec.value)
        except ContractError as exc:
            outcome.failure = Failure(STAGE_DECODE, exc, retriable=False)
            return outcome
        outcome.transaction_id = env.transaction_id
        outcome.correlation_id = env.correlation_id
        outcome.connector = env.connector
        outcome.source_system = env.source_system
        outcome.message_type = env.message_type
        outcome.occurred_at = env.occurred_at
        outcome.ingested_at = env.ingested_at
        try:
            outcome.service = self._routes.resolve(
                env.message_type, env.source_system, env.target_service
            )
        except NoRouteError as exc:
            outcome.failure = Failure(STAGE_ROUTE, exc, retriable=False)
            return outcome
        try:
            payload = env.decode_payload(self._codec)
        except ContractError as exc:
            outcome.failure = Failure(STAGE_DECODE, exc, retriable=False)
            return outcome
        known = self._delivered.get(env.transaction_id)
        if known is not None:
            outcome.attempts.append(Attempt(datetime.now(UTC), 0.0, "already-delivered"))
            self._deliver(outcome, Receipt(env.transaction_id, outcome.service, known, False, ""))
            return outcome
        tx = OutboundTransaction(
            transaction_id=env.transaction_id,
            correlation_id=env.correlation_id,
            source_system=env.source_system,
            source_agency_code=env.source_agency_code,
            message_type=env.message_type,
            schema_version=env.schema_version,
            occurred_at=env.occurred_at,
            payload=payload,
        )
        # Replays always reconcile first: the failure that dead-lettered them may have
        # hidden a delivery.
        await self._attempts(outcome, outcome.service, tx,
                             reconcile_first or outcome.replay_id is not None)
        return outcome

    async def _attempts(
        self, outcome: Outcome, service: str, tx: OutboundTransaction, maybe_sent: bool
    ) -> None:
        breaker = self.breaker(service)
        duration = self.meters.forward_duration(service)
        retried = self.meters.retried(outcome.connector, service)
        for attempt_no in range(1, self._max_attempts + 1):
            at = datetime.now(UTC)
            started = time.perf_counter()
            error: ForwardError | None = None
            if maybe_sent:
                # Only a confirmed "not there" clears the doubt; until then nothing is sent.
                try:
                    receipt = await self._exchange.lookup(service, tx.transaction_id)
                except ForwardError as exc:
                    error = exc
                    self.meters.reconciled(service, RECONCILE_FAILED).inc()
                else:
                    if receipt is not None:
                        self.meters.reconciled(service, RECONCILE_FOUND).inc()
                        outcome.attempts.append(
                            Attempt(at, (time.perf_counter() - started) * 1000, "recovered"))
                        self._deliver(outcome, receipt)
                        return
                    self.meters.reconciled(service, RECONCILE_ABSENT).inc()
                    maybe_sent = False
            if error is None and not breaker.allow():
                error = CircuitOpenError(f"circuit for service {service} is open")
            elif error is None:
                try:
                    receipt = await self._exchange.submit(service, tx)
                except ForwardError as exc:
                    error = exc
                    duration.observe(time.perf_counter() - started)
                    if exc.retriable:
                        breaker.record_failure()
                    else:
                        breaker.record_success()  # it answered: the service itself is up
                    # No HTTP answer: the request may have been processed. The doubt stays
                    # until a lookup settles it, whatever later attempts answer.
                    maybe_sent = maybe_sent or exc.status is None
                else:
                    elapsed = time.perf_counter() - started
                    duration.observe(elapsed)
                    breaker.record_success()
                    outcome.attempts.append(Attempt(
                        at, elapsed * 1000, "duplicate" if receipt.duplicate else "delivered"))
                    self._deliver(outcome, receipt)
                    return
            elapsed_ms = (time.perf_counter() - started) * 1000
            outcome.attempts.append(
                Attempt(at, elapsed_ms, type(error).__name__, error.status, str(error))
            )
            if not error.retriable or attempt_no == self._max_attempts:
                # Dead-lettered; a replay reconciles again before sending anything.
                outcome.failure = Failure(STAGE_FORWARD, error, error.retriable, error.status)
                return
            retried.inc()
            await self._pause_before_retry(self._backoff.delay(attempt_no))

    async def _pause_before_retry(self, delay_s: float) -> None:
        # A stopping router does not sit out a backoff: the record is handed on instead.
        if self._stopping.is_set():
            raise Abandoned
        try:
            await asyncio.wait_for(self._stopping.wait(), delay_s)
        except TimeoutError:
            return
        raise Abandoned

    def _deliver(self, outcome: Outcome, receipt: Receipt) -> None:
        self._delivered.add(receipt.transaction_id, receipt.receipt_id)
        outcome.delivered = True
        outcome.receipt_id = receipt.receipt_id
        outcome.duplicate_at_endpoint = receipt.duplicate
        outcome.completed_at = datetime.now(UTC)

