"""One transaction's attempt chain: decode, route, submit with retries, decide the outcome.

Retries (exponential backoff with jitter) are for timeouts, connection errors and 5xx;
4xx, no route and undecodable records are dead-lettered at once. When an earlier attempt
may have reached the national side without us seeing the answer (a timeout, a dropped
connection), or the record may have been sent by a previous router that crashed, the
next attempt first asks the national side whether it already has the transaction, so
it is not sent twice.

While the service is unavailable (its breaker open, or every attempt of a spent retry
budget failed with nobody answered in between) the outcome is `held`, not dead-lettered:
the transaction waits in the service's hold topic (see holds) and flows again by itself.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime

from gateway.backoff import Backoff
from gateway.contracts import Codec, Envelope
from gateway.errors import (
    CircuitOpenError,
    ContractError,
    ForwardError,
    MalformedRecordError,
    NoRouteError,
)
from gateway.headers import H_CONNECTOR, H_HOLD_RECONCILE, H_REPLAY
from gateway.kafka import Record
from gateway.metrics import (
    RECONCILE_ABSENT,
    RECONCILE_FAILED,
    RECONCILE_FOUND,
)
from gateway.ndxp import OutboundTransaction, Receipt
from gateway.router.availability import ServiceAvailability
from gateway.router.breaker import CircuitBreaker
from gateway.router.exchange import NationalExchange
from gateway.router.holds import Holds
from gateway.router.meters import RouterMeters
from gateway.router.outcomes import (
    STAGE_DECODE,
    STAGE_FORWARD,
    STAGE_ROUTE,
    Attempt,
    Failure,
    Outcome,
    mark_held,
)
from gateway.router.recent import RecentDeliveries
from gateway.router.routing import RoutingTable
from gateway.topics import Topics


class Abandoned(Exception):  # noqa: N818 - a control-flow signal, not an error
    """The router is stopping while this transaction waits to retry: leave it uncommitted.

    Its offset is not committed, so the next owner picks it up (and reconciles it first).
    """


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
        breaker_reset_max_s: float = 60.0,
        hold_max_s: float = 3 * 24 * 3600.0,
        hold_enabled: bool = True,
        availability: ServiceAvailability | None = None,
        holds: Holds | None = None,
        batched: Callable[[str], bool] | None = None,
    ) -> None:
        self._stopping = stopping or asyncio.Event()
        self.meters = meters or RouterMeters()
        self._codec = codec
        self._routes = routes
        self._exchange = exchange
        self._topics = topics
        self._backoff = backoff
        self._max_attempts = max_attempts
        self.availability = availability or ServiceAvailability(
            exchange=exchange, threshold=breaker_threshold, reset_s=breaker_reset_s,
            reset_max_s=breaker_reset_max_s)
        self.holds = holds or Holds(topics=topics, availability=self.availability,
                                    hold_max_s=hold_max_s, enabled=hold_enabled)
        self._delivered = RecentDeliveries(remembered_deliveries)
        # A batched service's breaker and request timings are kept per request by its
        # lane (router/batching.py): many transactions share one request.
        self._batched = batched or (lambda _service: False)
        self._source_prefix = f"{topics.prefix}src."

    def breaker(self, service: str) -> CircuitBreaker:
        """The circuit breaker of one national service."""
        return self.availability.breaker(service)

    def connector_of(self, rec: Record) -> str:
        """The connector a record came from, even when it cannot be decoded."""
        if rec.topic.startswith(self._source_prefix):
            return rec.topic[len(self._source_prefix):]
        named = rec.header(H_CONNECTOR)
        return named.decode(errors="replace") if named else "unknown"

    async def process(self, rec: Record, *, reconcile_first: bool = False) -> Outcome:
        """The outcome of one record; never raises for problems with the record itself."""
        outcome, env = self._open(rec)
        if env is None or outcome.service is None:
            return outcome
        # Replays always reconcile first: the failure that dead-lettered them may have
        # hidden a delivery. So do held records that may have been sent before they were.
        reconcile_first = (reconcile_first or outcome.replay_id is not None
                           or rec.header(H_HOLD_RECONCILE) is not None)
        if self.holds.held_back(outcome, maybe_sent=reconcile_first):
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
        await self._attempts(outcome, outcome.service, tx, reconcile_first)
        return outcome

    def _open(self, rec: Record) -> tuple[Outcome, Envelope | None]:
        """Decode the envelope and route it; a failed outcome and no envelope if either fails."""
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
            return outcome, None
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
            return outcome, None
        return outcome, env

    async def _attempts(
        self, outcome: Outcome, service: str, tx: OutboundTransaction, maybe_sent: bool
    ) -> None:
        breaker = self.breaker(service)
        retried = self.meters.retried(outcome.connector, service)
        for attempt_no in range(1, self._max_attempts + 1):
            at = datetime.now(UTC)
            started = time.perf_counter()
            error: ForwardError | None = None
            if not breaker.allow():
                # Unavailable: nothing is sent while the breaker is open; it waits instead.
                if self.holds.enabled:
                    mark_held(outcome, maybe_sent=maybe_sent)
                    return
                error = CircuitOpenError(f"circuit for service {service} is open")
            elif maybe_sent:
                # Only a confirmed "not there" clears the doubt; until then nothing is sent.
                found = await self._look_up(service, tx.transaction_id, breaker)
                if isinstance(found, Receipt):
                    outcome.attempts.append(
                        Attempt(at, (time.perf_counter() - started) * 1000, "recovered"))
                    self._deliver(outcome, found)
                    return
                error = found
                maybe_sent = found is not None
            if error is None:
                sent = await self._send(service, tx, breaker, started)
                if isinstance(sent, Receipt):
                    outcome.attempts.append(Attempt(
                        at, (time.perf_counter() - started) * 1000,
                        "duplicate" if sent.duplicate else "delivered"))
                    self._deliver(outcome, sent)
                    return
                error = sent
                # No HTTP answer: the request may have been processed. The doubt stays
                # until a lookup settles it, whatever later attempts answer.
                maybe_sent = maybe_sent or sent.status is None
            elapsed_ms = (time.perf_counter() - started) * 1000
            outcome.attempts.append(
                Attempt(at, elapsed_ms, type(error).__name__, error.status, str(error))
            )
            if not error.retriable or attempt_no == self._max_attempts:
                if (self.holds.enabled and error.retriable
                        and breaker.failures_in_a_row >= attempt_no):
                    # Every attempt failed and nobody got an answer meanwhile: the service
                    # is down, not this transaction's fault.
                    mark_held(outcome, maybe_sent=maybe_sent)
                    return
                # Dead-lettered; a replay reconciles again before sending anything.
                outcome.failure = Failure(STAGE_FORWARD, error, error.retriable, error.status)
                return
            retried.inc()
            await self._pause_before_retry(self._backoff.delay(attempt_no))

    async def _look_up(self, service: str, transaction_id: str,
                       breaker: CircuitBreaker) -> Receipt | ForwardError | None:
        """The receipt if the national side has it, None if it has not, or why we can't tell."""
        per_request = not self._batched(service)
        try:
            receipt = await self._exchange.lookup(service, transaction_id)
        except ForwardError as exc:
            self.meters.reconciled(service, RECONCILE_FAILED).inc()
            if exc.retriable and per_request:
                breaker.record_failure()
            return exc
        if per_request:
            breaker.record_success()
        self.meters.reconciled(
            service, RECONCILE_FOUND if receipt is not None else RECONCILE_ABSENT).inc()
        return receipt

    async def _send(self, service: str, tx: OutboundTransaction, breaker: CircuitBreaker,
                    started: float) -> Receipt | ForwardError:
        """One submit: the receipt, or the error; the breaker hears how it went."""
        try:
            result: Receipt | ForwardError = await self._exchange.submit(service, tx)
        except ForwardError as exc:
            result = exc
        if not self._batched(service):
            self.meters.forward_duration(service).observe(time.perf_counter() - started)
            if isinstance(result, ForwardError) and result.retriable:
                breaker.record_failure()
            else:
                breaker.record_success()  # it answered: the service itself is up
        return result

    async def _pause_before_retry(self, delay_s: float) -> None:
        # A stopping router does not sit out a backoff: the record is handed on instead.
        if self._stopping.is_set():
            raise Abandoned
        try:
            await asyncio.wait_for(self._stopping.wait(), delay_s)
        except TimeoutError:
            return
        raise Abandoned

    async def wait_for_service(self, service: str, timeout_s: float) -> None:
        """Wait (at most `timeout_s`) until `service` answers again; Abandoned if stopping."""
        if self._stopping.is_set():
            raise Abandoned
        waiting = asyncio.ensure_future(self.availability.wait_available(service, timeout_s))
        stopping = asyncio.ensure_future(self._stopping.wait())
        try:
            await asyncio.wait({waiting, stopping}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (waiting, stopping):
                task.cancel()
            await asyncio.gather(waiting, stopping, return_exceptions=True)
        if self._stopping.is_set():
            raise Abandoned

    def _deliver(self, outcome: Outcome, receipt: Receipt) -> None:
        self._delivered.add(receipt.transaction_id, receipt.receipt_id)
        outcome.delivered = True
        outcome.receipt_id = receipt.receipt_id
        outcome.duplicate_at_endpoint = receipt.duplicate
        outcome.completed_at = datetime.now(UTC)

