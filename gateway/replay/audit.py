"""The replay audit trail: who replayed what, when, with which filter, and the result.

Avro records (schemas/avro/replay.audit) on the replay audit topic, keyed by replay id.
A real run writes STARTED before it re-submits anything and a final record (COMPLETED,
INTERRUPTED or FAILED) when it ends, so a run killed outright still shows who started
it and what it selected; a dry run writes one DRY_RUN record. The latest record of a
replay id is its state.
"""

from __future__ import annotations

__all__ = [
    "AUDIT_SCHEMA",
    "MAX_AUDIT_IDS",
    "AuditLog",
    "AuditRecord",
    "AuditStatus",
    "read_audits",
]

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from gateway.contracts import Codec
from gateway.errors import ContractError
from gateway.kafka import Producer, Record
from gateway.logs import get_logger
from gateway.replay.filters import ReplayFilter
from gateway.replay.scan import scan_all

AUDIT_SCHEMA = "replay.audit"
MAX_AUDIT_IDS = 10_000
"""Ids listed in one audit record at most: 10,000 UUIDs are ~0.4 MB, well under Kafka's
1 MB default record limit. The replay topic keeps every re-submission anyway."""

_log = get_logger(__name__)


class AuditStatus(enum.StrEnum):
    """The state of a replay run (the schema's ReplayStatus enum)."""

    DRY_RUN = "DRY_RUN"
    STARTED = "STARTED"
    COMPLETED = "COMPLETED"
    INTERRUPTED = "INTERRUPTED"
    FAILED = "FAILED"


@dataclass(slots=True)
class AuditRecord:
    """One audit record (see schemas/avro/replay.audit/v1.avsc for each field)."""

    replay_id: str
    status: AuditStatus
    dry_run: bool
    operator: str
    origin: str
    started_at: datetime
    filter: ReplayFilter
    rate_per_s: float
    matched: int = 0
    selected: int = 0
    skipped_delivered: int = 0
    skipped_submitted: int = 0
    replayed: int = 0
    delivered: int = 0
    failed_again: int = 0
    pending: int = 0
    transaction_ids: list[str] = field(default_factory=list)
    transaction_ids_truncated: bool = False
    message: str | None = None
    finished_at: datetime | None = None
    recorded_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def set_ids(self, ids: Sequence[str]) -> None:
        """List `ids`, at most MAX_AUDIT_IDS of them."""
        self.transaction_ids = list(ids[:MAX_AUDIT_IDS])
        self.transaction_ids_truncated = len(ids) > MAX_AUDIT_IDS

    def to_avro(self) -> dict[str, Any]:
        """The replay.audit datum."""
        flt = self.filter
        return {
            "replay_id": self.replay_id,
            "status": self.status.value,
            "dry_run": self.dry_run,
            "operator": self.operator,
            "origin": self.origin,
            "started_at": self.started_at,
            "recorded_at": self.recorded_at,
            "finished_at": self.finished_at,
            "filter": {
                "failed_from": flt.failed_from,
                "failed_to": flt.failed_to,
                "connectors": sorted(flt.connectors),
                "services": sorted(flt.services),
                "error_classes": sorted(flt.error_classes),
                "transaction_ids": sorted(flt.transaction_ids),
            },
            "rate_per_s": self.rate_per_s,
            "matched": self.matched,
            "selected": self.selected,
            "skipped_delivered": self.skipped_delivered,
            "skipped_submitted": self.skipped_submitted,
            "replayed": self.replayed,
            "delivered": self.delivered,
            "failed_again": self.failed_again,
            "pending": self.pending,
            "transaction_ids": self.transaction_ids,
            "transaction_ids_truncated": self.transaction_ids_truncated,
            "message": self.message,
        }

    @classmethod
    def from_avro(cls, datum: dict[str, Any]) -> AuditRecord:
        """Build from a decoded replay.audit datum."""
        flt = datum["filter"]
        return cls(
            replay_id=datum["replay_id"],
            status=AuditStatus(datum["status"]),
            dry_run=datum["dry_run"],
            operator=datum["operator"],
            origin=datum["origin"],
            started_at=datum["started_at"],
            recorded_at=datum["recorded_at"],
            finished_at=datum["finished_at"],
            # Stored as given; not re-validated, so history never fails on an old record.
            filter=ReplayFilter(
                failed_from=flt["failed_from"], failed_to=flt["failed_to"],
                connectors=frozenset(flt["connectors"]), services=frozenset(flt["services"]),
                error_classes=frozenset(flt["error_classes"]),
                transaction_ids=frozenset(flt["transaction_ids"]),
            ),
            rate_per_s=datum["rate_per_s"],
            matched=datum["matched"],
            selected=datum["selected"],
            skipped_delivered=datum["skipped_delivered"],
            skipped_submitted=datum["skipped_submitted"],
            replayed=datum["replayed"],
            delivered=datum["delivered"],
            failed_again=datum["failed_again"],
            pending=datum["pending"],
            transaction_ids=list(datum["transaction_ids"]),
            transaction_ids_truncated=datum["transaction_ids_truncated"],
            message=datum["message"],
        )


class AuditLog:
    """Writes audit records; each write waits for Kafka's acknowledgement."""

    def __init__(self, producer: Producer, topic: str, codec: Codec) -> None:
        self._producer = producer
        self._topic = topic
        self._codec = codec
        self._schema = codec.registry.latest(AUDIT_SCHEMA)

    async def write(self, record: AuditRecord) -> None:
        """Append one record (durably: acks=all) keyed by its replay id."""
        record.recorded_at = datetime.now(UTC)
        value = self._codec.encode(self._schema, record.to_avro())
        await self._producer.send_and_wait(self._topic, value, key=record.replay_id.encode())
        _log.info("replay audited", replay_id=record.replay_id, status=record.status.value,
                  operator=record.operator, replayed=record.replayed)


async def read_audits(bootstrap_servers: str, topic: str, codec: Codec,
                      replay_ids: set[str] | None = None) -> dict[str, AuditRecord]:
    """The latest audit record of each replay (or of the given replays only)."""
    latest: dict[str, AuditRecord] = {}
    wanted = {r.encode() for r in replay_ids} if replay_ids is not None else None
    schema = codec.registry.latest(AUDIT_SCHEMA)

    def visit(rec: Record) -> None:
        if rec.value is None or (wanted is not None and rec.key not in wanted):
            return
        try:
            # Read as replay.audit: a record of another schema planted here is refused by
            # the codec instead of surfacing as a KeyError in from_avro.
            entry = AuditRecord.from_avro(codec.decode(rec.value, schema))
        except (ContractError, KeyError, TypeError, ValueError) as exc:
            _log.warning("undecodable audit record skipped", topic=rec.topic,
                         partition=rec.partition, offset=rec.offset,
                         error=f"{type(exc).__name__}: {exc}")
            return
        current = latest.get(entry.replay_id)
        if current is None or entry.recorded_at >= current.recorded_at:
            if current is not None:
                entry.started_at = min(entry.started_at, current.started_at)
            latest[entry.replay_id] = entry

    await scan_all(bootstrap_servers, [topic], visit)
    return latest
