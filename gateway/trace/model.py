"""A transaction's path through the gateway, as plain data (rendered by render.py)."""

from __future__ import annotations

__all__ = ["EventKind", "Ingestion", "TraceEvent", "TraceStatus", "TransactionTrace"]

import enum
from dataclasses import dataclass, field
from datetime import datetime

Detail = str | int | float | bool | None


class TraceStatus(enum.StrEnum):
    """Where the transaction stands now."""

    DELIVERED = "DELIVERED"
    """The national side has it (receipt_id says which receipt)."""
    DEAD_LETTERED = "DEAD_LETTERED"
    """Its latest attempt chain failed; it waits in the dead-letter topic for a replay."""
    REPLAY_PENDING = "REPLAY_PENDING"
    """Re-submitted by a replay; the router has not written its outcome yet."""
    IN_FLIGHT = "IN_FLIGHT"
    """Ingested; the router has not written an outcome yet."""
    HELD = "HELD"
    """Waiting in its service's hold topic while that national service is unavailable;
    it is delivered by itself when the service answers (no replay needed)."""


class EventKind(enum.StrEnum):
    """What happened, in the order they happen to one transaction."""

    INGESTED = "ingested"
    HELD = "held"
    ATTEMPT = "attempt"
    DEAD_LETTERED = "dead_lettered"
    REPLAY_SUBMITTED = "replay_submitted"
    DELIVERED = "delivered"


@dataclass(frozen=True, slots=True)
class Ingestion:
    """Where a connector published the transaction."""

    connector: str
    topic: str
    partition: int
    offset: int
    at: datetime | None
    found_by: str
    """`ledger` (the router's record of its source) or `scan` (found in the topic)."""


@dataclass(frozen=True, slots=True)
class TraceEvent:
    """One step of the path."""

    at: datetime
    kind: EventKind
    summary: str
    replay_id: str | None = None
    details: dict[str, Detail] = field(default_factory=dict)


@dataclass(slots=True)
class TransactionTrace:
    """Everything known about one transaction, oldest event first."""

    transaction_id: str
    status: TraceStatus
    connector: str | None = None
    service: str | None = None
    message_type: str | None = None
    correlation_id: str | None = None
    ingested: Ingestion | None = None
    events: list[TraceEvent] = field(default_factory=list)
    receipt_id: str | None = None
    delivered_at: datetime | None = None
    replay_ids: list[str] = field(default_factory=list)
