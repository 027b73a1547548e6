"""What the router writes when a transaction's outcome is final.

Dead-letter records keep the original key, value and headers, and add Kafka Connect's
`__connect.errors.*` headers where the meaning is the same (so existing DLQ viewers read
them) plus `lgsp.errors.*` headers for the rest. Ledger records are Avro
(`schemas/avro/ledger.outcome`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from gateway.contracts import Codec, SchemaVersion
from gateway.headers import (
    ERROR_PREFIXES,
    H_ATTEMPTS,
    H_CONNECTOR,
    H_EXCEPTION,
    H_FIRST_FAILURE,
    H_HOLD_REASON,
    H_HOLD_RECONCILE,
    H_HOLD_SINCE,
    H_HOLD_SOURCE,
    H_LAST_FAILURE,
    H_MESSAGE,
    H_OFFSET,
    H_PARTITION,
    H_RETRIABLE,
    H_SERVICE,
    H_STAGE,
    H_STATUS,
    H_TOPIC,
    H_TRANSACTION,
    HOLD_PREFIX,
)
from gateway.kafka import Header, Record

LEDGER_SCHEMA = "ledger.outcome"

# Stages, named as Kafka Connect names them where one fits.
STAGE_DECODE = "VALUE_CONVERTER"
STAGE_ROUTE = "TRANSFORMATION"
STAGE_FORWARD = "TASK_PUT"


@dataclass(slots=True)
class Attempt:
    """One try to deliver."""

    at: datetime
    duration_ms: float
    result: str
    status: int | None = None
    message: str | None = None


@dataclass(slots=True)
class Failure:
    """Why a transaction is being dead-lettered."""

    stage: str
    error: BaseException
    retriable: bool
    status: int | None = None


@dataclass(slots=True)
class Outcome:
    """The final result of one attempt chain."""

    record: Record
    connector: str
    transaction_id: str | None
    service: str | None
    delivered: bool
    attempts: list[Attempt] = field(default_factory=list)
    receipt_id: str | None = None
    duplicate_at_endpoint: bool = False
    failure: Failure | None = None
    correlation_id: str | None = None
    source_system: str = ""
    message_type: str = ""
    occurred_at: datetime | None = None
    ingested_at: datetime | None = None
    replay_id: str | None = None
    completed_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    # Not final: the national service is unavailable, so the transaction waits in its
    # hold topic; `maybe_sent` says it must be looked up before it is sent.
    held: bool = False
    maybe_sent: bool = False
    hold_reason: str = ""

    @property
    def latency_ms(self) -> float | None:
        """occurred-at to completion, for delivered transactions."""
        if not self.delivered or self.occurred_at is None:
            return None
        return (self.completed_at - self.occurred_at).total_seconds() * 1000


def _iso(ts: datetime) -> bytes:
    return ts.isoformat(timespec="milliseconds").encode()


def dead_letter_headers(outcome: Outcome) -> list[Header]:
    """The original headers (minus stale error headers) plus this failure's headers."""
    failure = outcome.failure
    assert failure is not None, "only failed outcomes are dead-lettered"
    rec = outcome.record
    kept = [(k, v) for k, v in rec.headers if not k.startswith(ERROR_PREFIXES)]
    first = outcome.attempts[0].at if outcome.attempts else outcome.completed_at
    last = outcome.attempts[-1].at if outcome.attempts else outcome.completed_at
    headers: list[Header] = [
        (H_TOPIC, rec.topic.encode()),
        (H_PARTITION, str(rec.partition).encode()),
        (H_OFFSET, str(rec.offset).encode()),
        (H_CONNECTOR, outcome.connector.encode()),
        (H_STAGE, failure.stage.encode()),
        (H_EXCEPTION, _class_name(failure.error).encode()),
        (H_MESSAGE, str(failure.error).encode()),
        (H_ATTEMPTS, str(len(outcome.attempts)).encode()),
        (H_FIRST_FAILURE, _iso(first)),
        (H_LAST_FAILURE, _iso(last)),
        (H_RETRIABLE, b"true" if failure.retriable else b"false"),
        (H_SERVICE, (outcome.service or "").encode()),
    ]
    if failure.status is not None:
        headers.append((H_STATUS, str(failure.status).encode()))
    if outcome.transaction_id and rec.header(H_TRANSACTION) is None:
        headers.append((H_TRANSACTION, outcome.transaction_id.encode()))
    return kept + headers


def mark_held(outcome: Outcome, *, maybe_sent: bool) -> None:
    """Make the outcome `held`: its service is unavailable, so it waits (not final)."""
    outcome.held = True
    outcome.maybe_sent = maybe_sent
    outcome.hold_reason = f"national service {outcome.service} is unavailable"


def hold_headers(outcome: Outcome, since_ms: int) -> list[Header]:
    """A held copy's headers: the original's (minus stale hold headers) and why it waits."""
    rec = outcome.record
    kept = [(k, v) for k, v in rec.headers if not k.startswith(HOLD_PREFIX)]
    headers: list[Header] = [
        (H_HOLD_SINCE, str(since_ms).encode()),
        (H_HOLD_REASON, outcome.hold_reason.encode()),
        (H_HOLD_SOURCE, f"{rec.topic}:{rec.partition}:{rec.offset}".encode()),
    ]
    if outcome.maybe_sent:
        headers.append((H_HOLD_RECONCILE, b"1"))
    if outcome.transaction_id and rec.header(H_TRANSACTION) is None:
        headers.append((H_TRANSACTION, outcome.transaction_id.encode()))
    return kept + headers


def _class_name(error: BaseException) -> str:
    cls = type(error)
    return f"{cls.__module__}.{cls.__qualname__}"


def ledger_datum(outcome: Outcome) -> dict[str, Any]:
    """The ledger.outcome record for an outcome."""
    failure = outcome.failure
    rec = outcome.record
    return {
        "transaction_id": outcome.transaction_id or f"undecodable:{rec.topic}:{rec.partition}:"
        f"{rec.offset}",
        "correlation_id": outcome.correlation_id or "",
        "connector": outcome.connector,
        "source_system": outcome.source_system,
        "message_type": outcome.message_type,
        "service": outcome.service,
        "outcome": "DELIVERED" if outcome.delivered else "DEAD_LETTERED",
        "receipt_id": outcome.receipt_id,
        "duplicate_at_endpoint": outcome.duplicate_at_endpoint,
        "attempts": len(outcome.attempts),
        "attempt_log": [
            {"at": a.at, "duration_ms": a.duration_ms, "result": a.result, "status": a.status,
             "message": a.message}
            for a in outcome.attempts
        ],
        "error_class": _class_name(failure.error) if failure else None,
        "error_message": str(failure.error) if failure else None,
        "source_topic": rec.topic,
        "source_partition": rec.partition,
        "source_offset": rec.offset,
        "occurred_at": outcome.occurred_at,
        "ingested_at": outcome.ingested_at,
        "completed_at": outcome.completed_at,
        "latency_ms": outcome.latency_ms,
        "replay_id": outcome.replay_id,
    }


def encode_ledger(codec: Codec, schema: SchemaVersion, outcome: Outcome) -> bytes:
    """The ledger record's bytes."""
    return codec.encode(schema, ledger_datum(outcome))
