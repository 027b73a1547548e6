"""What the index holds, as plain data: rows taken from the topics, and query answers.

The detail rows mirror one Kafka record each and are keyed by its coordinates, so
writing one twice changes nothing. The summary (`TransactionSummary`) is derived from a
transaction's detail rows only, never accumulated, so it is the same whatever order the
records arrived in.
"""

from __future__ import annotations

__all__ = [
    "Changes",
    "HoldRow",
    "IngestRow",
    "LedgerRow",
    "Page",
    "ReplayCandidate",
    "ReplayRow",
    "ServiceHealth",
    "TraceRows",
    "TransactionQuery",
    "TransactionSummary",
]

from dataclasses import dataclass, field
from typing import Any

from gateway.replay.deadletters import DeadLetter
from gateway.trace.tracer import Hold, Submission


@dataclass(frozen=True, slots=True)
class IngestRow:
    """A connector published the transaction: its envelope's facts and where it landed."""

    transaction_id: str
    connector: str
    topic: str
    partition: int
    offset: int
    at_ms: int
    business_key: str
    source_system: str
    agency: str
    message_type: str
    correlation_id: str
    service: str | None


@dataclass(frozen=True, slots=True)
class LedgerRow:
    """One ledger.outcome record (one attempt chain's result)."""

    partition: int
    offset: int
    transaction_id: str
    service: str | None
    outcome: str
    completed_at_ms: int
    duration_ms: float | None
    """The final attempt's request duration, as X-Road's health data counts requests."""
    datum: dict[str, Any]


@dataclass(frozen=True, slots=True)
class HoldRow:
    """A held copy in a service's hold topic (the service was unavailable)."""

    transaction_id: str
    topic: str
    partition: int
    offset: int
    at_ms: int
    service: str
    reason: str


@dataclass(frozen=True, slots=True)
class ReplayRow:
    """Who ran a replay (from its audit records)."""

    replay_id: str
    operator: str


@dataclass(slots=True)
class Changes:
    """Everything one batch of records adds to the index."""

    ingests: list[IngestRow] = field(default_factory=list)
    ledger: list[LedgerRow] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    submissions: list[tuple[str, Submission]] = field(default_factory=list)
    """(transaction id, the re-submission) pairs."""
    replays: list[ReplayRow] = field(default_factory=list)
    holds: list[HoldRow] = field(default_factory=list)
    skipped: int = 0
    """Records that are not a transaction's (undecodable, tombstones): counted, not indexed."""

    def touched(self) -> set[str]:
        """Transactions whose summary this batch may change."""
        ids = {r.transaction_id for r in self.ingests}
        ids.update(r.transaction_id for r in self.ledger)
        ids.update(d.transaction_id for d in self.dead_letters)
        ids.update(tx for tx, _ in self.submissions)
        ids.update(h.transaction_id for h in self.holds)
        return ids

    def __len__(self) -> int:
        return (len(self.ingests) + len(self.ledger) + len(self.dead_letters)
                + len(self.submissions) + len(self.replays) + len(self.holds))


@dataclass(slots=True)
class TraceRows:
    """Every detail row of one transaction: what the tracer reads from the topics."""

    transaction_id: str
    ingest: IngestRow | None = None
    ledger: list[dict[str, Any]] = field(default_factory=list)
    dead: list[DeadLetter] = field(default_factory=list)
    submissions: list[Submission] = field(default_factory=list)
    holds: list[Hold] = field(default_factory=list)
    operators: dict[str, str] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        """Nothing is known of the transaction."""
        return self.ingest is None and not (self.ledger or self.dead or self.submissions
                                             or self.holds)


@dataclass(frozen=True, slots=True)
class TransactionSummary:
    """One row of `GET /transactions`: where a transaction stands now."""

    transaction_id: str
    status: str
    at_ms: int
    """Ingested at (the connector topic's record time), or its first known event."""
    updated_ms: int
    business_key: str | None = None
    source_system: str | None = None
    agency: str | None = None
    connector: str | None = None
    message_type: str | None = None
    service: str | None = None
    attempts: int = 0
    error_class: str | None = None
    error_message: str | None = None
    receipt_id: str | None = None
    delivered_ms: int | None = None
    replays: int = 0
    ingest_topic: str | None = None
    ingest_partition: int | None = None
    ingest_offset: int | None = None
    dead_partition: int | None = None
    dead_offset: int | None = None
    """The latest dead-letter record, which a replay would re-submit."""
    pending_replay_id: str | None = None
    """The replay that re-submitted the latest failure, while its outcome is awaited."""


@dataclass(frozen=True, slots=True)
class TransactionQuery:
    """A filtered listing, newest first; every field given must match."""

    business_key: str | None = None
    service: str | None = None
    outcome: str | None = None
    since_ms: int | None = None
    until_ms: int | None = None
    limit: int = 50
    after: tuple[int, str] | None = None
    """Keyset position: (at_ms, transaction_id) of the last row of the previous page."""


@dataclass(frozen=True, slots=True)
class Page:
    """One page of a listing and where the next one starts (None: the last page)."""

    rows: list[TransactionSummary]
    next_after: tuple[int, str] | None


@dataclass(frozen=True, slots=True)
class ServiceHealth:
    """Health data of one national service, in the manner of X-Road's health data."""

    service: str
    period_s: int
    successes: int
    failures: int
    last_success_ms: int | None
    last_failure_ms: int | None
    duration_min_ms: float | None
    duration_avg_ms: float | None
    duration_max_ms: float | None


@dataclass(frozen=True, slots=True)
class ReplayCandidate:
    """A transaction's latest dead-letter record and where the transaction stands."""

    dead: DeadLetter
    status: str
    pending_replay_id: str | None
