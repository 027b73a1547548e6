"""From Kafka records to index rows, and from a transaction's rows to its trace and summary.

The trace is built by the tracer's own `assemble` from the same facts the tracer reads
off the topics, so `GET /transactions/{id}` answers the same from the index as from a
scan. The summary is derived from the trace, so its status is the trace's status.
"""

from __future__ import annotations

__all__ = [
    "Projector",
    "datum_from_json",
    "datum_to_json",
    "from_ms",
    "summarise",
    "trace_of",
]

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from gateway.contracts import Codec, Envelope
from gateway.errors import ContractError
from gateway.headers import (
    H_HOLD_REASON,
    H_HOLD_SINCE,
    H_REPLAY,
    H_REPLAY_SOURCE,
    H_TRANSACTION,
)
from gateway.index.model import (
    Changes,
    HoldRow,
    IngestRow,
    LedgerRow,
    ReplayRow,
    TraceRows,
    TransactionSummary,
)
from gateway.kafka import Record
from gateway.logs import get_logger
from gateway.replay.audit import AuditRecord
from gateway.replay.deadletters import DeadLetter
from gateway.topics import Topics
from gateway.trace import Ingestion, TraceStatus, TransactionTrace
from gateway.trace.tracer import (
    Submission,
    add_holds,
    assemble,
    ingestion_from_ledger,
)

_log = get_logger(__name__)
_DATUM_TIMES = ("completed_at", "occurred_at", "ingested_at")


def _ms(moment: datetime | None) -> int | None:
    return None if moment is None else int(moment.timestamp() * 1000)


def from_ms(ms: int) -> datetime:
    """Milliseconds since the epoch as an aware UTC datetime."""
    return datetime.fromtimestamp(ms / 1000, UTC)


def datum_to_json(datum: dict[str, Any]) -> str:
    """A ledger datum as JSON text (times as ISO-8601 with offset)."""
    return orjson.dumps(datum).decode()


def datum_from_json(text: str | bytes) -> dict[str, Any]:
    """The ledger datum back, times as aware datetimes as fastavro gives them."""
    datum: dict[str, Any] = orjson.loads(text)
    for name in _DATUM_TIMES:
        if datum.get(name) is not None:
            datum[name] = datetime.fromisoformat(datum[name])
    for attempt in datum.get("attempt_log") or ():
        attempt["at"] = datetime.fromisoformat(attempt["at"])
    return datum


class Projector:
    """Turns records of the gateway's topics into index rows (one batch at a time)."""

    def __init__(self, topics: Topics, codec: Codec) -> None:
        self._topics = topics
        self._codec = codec
        self._source = re.compile(topics.source_pattern)

    @property
    def topic_pattern(self) -> str:
        """Every topic the index reads: connector topics, ledger, dead letters, replays."""
        t = self._topics
        names = "|".join(re.escape(n) for n in (t.ledger, t.dead_letter, t.replay,
                                                t.replay_audit))
        src = re.escape(f"{t.prefix}src.") + r"[A-Za-z0-9._-]+"
        hold = re.escape(t.hold_prefix) + r"[A-Za-z0-9._-]+"
        return f"^(?:{src}|{hold}|{names})$"

    def wanted(self, topic: str) -> bool:
        """Whether the index reads this topic."""
        t = self._topics
        return topic in (t.ledger, t.dead_letter, t.replay, t.replay_audit) \
            or topic.startswith(t.hold_prefix) or self._source.match(topic) is not None

    def project(self, records: list[Record]) -> Changes:
        """The rows these records add; records that are no transaction's are counted."""
        changes = Changes()
        t = self._topics
        for rec in records:
            if rec.topic == t.ledger:
                self._ledger(rec, changes)
            elif rec.topic == t.dead_letter:
                dead = DeadLetter.from_record(rec)
                if dead is None:
                    changes.skipped += 1
                else:
                    changes.dead_letters.append(dead)
            elif rec.topic == t.replay:
                self._submission(rec, changes)
            elif rec.topic == t.replay_audit:
                self._audit(rec, changes)
            elif rec.topic.startswith(t.hold_prefix):
                self._hold(rec, changes)
            elif self._source.match(rec.topic):
                self._ingest(rec, changes)
        return changes

    def _ingest(self, rec: Record, changes: Changes) -> None:
        if rec.value is None:
            changes.skipped += 1
            return
        try:
            env = Envelope.decode(self._codec, rec.value)
        except ContractError:
            # The router dead-letters it with the reason; the index has nothing to add.
            changes.skipped += 1
            return
        connector = rec.topic[len(f"{self._topics.prefix}src."):]
        changes.ingests.append(IngestRow(
            env.transaction_id, connector, rec.topic, rec.partition, rec.offset,
            rec.timestamp_ms, env.business_key, env.source_system, env.source_agency_code,
            env.message_type, env.correlation_id, env.target_service))

    def _ledger(self, rec: Record, changes: Changes) -> None:
        if rec.value is None:
            changes.skipped += 1
            return
        try:
            datum = self._codec.decode(rec.value)
        except ContractError as exc:
            _log.warning("undecodable ledger record not indexed", partition=rec.partition,
                         offset=rec.offset, error=str(exc))
            changes.skipped += 1
            return
        log = datum.get("attempt_log") or []
        duration = float(log[-1]["duration_ms"]) if log else None
        completed = _ms(datum["completed_at"]) or rec.timestamp_ms
        changes.ledger.append(LedgerRow(rec.partition, rec.offset, datum["transaction_id"],
                                        datum["service"], datum["outcome"], completed,
                                        duration, datum))

    def _submission(self, rec: Record, changes: Changes) -> None:
        raw = rec.header(H_TRANSACTION)
        if not raw:
            changes.skipped += 1
            return
        replay = rec.header(H_REPLAY)
        marker = rec.header(H_REPLAY_SOURCE)
        changes.submissions.append((raw.decode(errors="replace"), Submission(
            replay.decode(errors="replace") if replay else "", from_ms(rec.timestamp_ms),
            marker.decode(errors="replace") if marker else None, rec.topic, rec.partition,
            rec.offset)))

    def _hold(self, rec: Record, changes: Changes) -> None:
        raw = rec.header(H_TRANSACTION)
        if not raw:
            changes.skipped += 1
            return
        since = rec.header(H_HOLD_SINCE)
        reason = rec.header(H_HOLD_REASON)
        # As the tracer reads them (gateway/trace/tracer.py, visit_hold).
        changes.holds.append(HoldRow(
            raw.decode(errors="replace"), rec.topic, rec.partition, rec.offset,
            int(since) if since and since.isdigit() else rec.timestamp_ms,
            self._topics.held_service(rec.topic) or "",
            reason.decode(errors="replace") if reason else "its service was unavailable"))

    def _audit(self, rec: Record, changes: Changes) -> None:
        if rec.value is None:
            changes.skipped += 1
            return
        try:
            entry = AuditRecord.from_avro(self._codec.decode(rec.value))
        except ContractError:
            changes.skipped += 1
            return
        changes.replays.append(ReplayRow(entry.replay_id, entry.operator))


def trace_of(rows: TraceRows, topics: Topics) -> TransactionTrace:
    """The transaction's trace from its index rows (what `Tracer.trace` returns)."""
    ingestion = ingestion_from_ledger(rows.ledger, topics)
    if ingestion is None and rows.ingest is not None:
        i = rows.ingest
        ingestion = Ingestion(i.connector, i.topic, i.partition, i.offset, from_ms(i.at_ms), "scan")
    replay_ids = sorted({s.replay_id for s in rows.submissions if s.replay_id})
    operators = {r: rows.operators[r] for r in replay_ids if r in rows.operators}
    trace = assemble(rows.transaction_id, ingestion=ingestion, ledger=rows.ledger,
                     dead=rows.dead, submissions=rows.submissions, operators=operators,
                     replay_ids=replay_ids)
    add_holds(trace, rows.holds)
    return trace


@dataclass(frozen=True, slots=True)
class _Facts:
    """What a summary needs of a trace."""

    status: TraceStatus
    connector: str | None
    message_type: str | None
    service: str | None
    receipt_id: str | None
    delivered_at: datetime | None
    replays: int
    ingested: Ingestion | None
    times: list[datetime]


def _from_trace(rows: TraceRows, topics: Topics) -> _Facts:
    trace = trace_of(rows, topics)
    return _Facts(trace.status, trace.connector, trace.message_type, trace.service,
                  trace.receipt_id, trace.delivered_at, len(trace.replay_ids), trace.ingested,
                  [e.at for e in trace.events if e.at.year > 1])


def _from_ledger(rows: TraceRows, topics: Topics) -> _Facts:
    """The same facts as `_from_trace` for a transaction with no dead-letter record and
    no re-submission (nearly all of them), without building its trace: the indexer's
    hot path. tests/index/test_store.py holds both to the same answers."""
    ingestion = ingestion_from_ledger(rows.ledger, topics)
    if ingestion is None and rows.ingest is not None:
        i = rows.ingest
        ingestion = Ingestion(i.connector, i.topic, i.partition, i.offset, from_ms(i.at_ms),
                              "scan")
    connector = ingestion.connector if ingestion is not None else None
    service = message_type = receipt = None
    delivered_at: datetime | None = None
    failed = False
    times = [ingestion.at] if ingestion is not None and ingestion.at is not None else []
    for row in sorted(rows.ledger, key=lambda r: r["completed_at"]):
        connector = connector or row["connector"]
        service = row["service"] or service
        message_type = row["message_type"] or message_type
        times.extend(a["at"] for a in row["attempt_log"])
        times.append(row["completed_at"])
        if row["outcome"] == "DELIVERED":
            if delivered_at is None:
                receipt, delivered_at = row["receipt_id"], row["completed_at"]
        else:
            failed = True
    status = TraceStatus.DELIVERED if delivered_at is not None else \
        TraceStatus.DEAD_LETTERED if failed else TraceStatus.IN_FLIGHT
    return _Facts(status, connector, message_type or None, service or None, receipt,
                  delivered_at, 0, ingestion, [t for t in times if t.year > 1])


def summarise(rows: TraceRows, topics: Topics, *, via_trace: bool = False
              ) -> TransactionSummary:
    """Where the transaction stands, derived from its rows only (order-independent).

    `via_trace` forces the general path (the tests compare both).
    """
    simple = not (rows.dead or rows.submissions or rows.holds) and not via_trace
    trace = _from_ledger(rows, topics) if simple else _from_trace(rows, topics)
    times = trace.times
    ingest = rows.ingest
    at_ms = ingest.at_ms if ingest is not None else int(min(times).timestamp() * 1000) \
        if times else 0
    updated_ms = int(max(times).timestamp() * 1000) if times else at_ms
    latest_dead: DeadLetter | None = None
    for d in rows.dead:
        if latest_dead is None or d.newer_than(latest_dead):
            latest_dead = d
    # The last failure's reason: the latest failed chain in the ledger or dead letter.
    failures: list[tuple[int, str | None, str | None]] = [
        (_ms(r["completed_at"]) or 0, r["error_class"], r["error_message"])
        for r in rows.ledger if r["outcome"] != "DELIVERED"]
    failures.extend((d.timestamp_ms, d.error_class, d.message) for d in rows.dead)
    last_failure = max(failures, key=lambda f: f[0]) if failures else None
    attempts = sum(int(r["attempts"]) for r in rows.ledger)
    if not rows.ledger and rows.dead:
        attempts = sum(d.attempts for d in rows.dead)
    pending = None
    if trace.status is TraceStatus.REPLAY_PENDING and latest_dead is not None:
        for s in rows.submissions:
            if s.marker == latest_dead.marker or (
                    s.marker is None and s.at >= from_ms(latest_dead.timestamp_ms)):
                pending = s.replay_id
    return TransactionSummary(
        transaction_id=rows.transaction_id, status=trace.status.value, at_ms=at_ms,
        updated_ms=updated_ms or at_ms,
        business_key=ingest.business_key if ingest else None,
        source_system=ingest.source_system if ingest else _ledger_text(rows, "source_system"),
        agency=ingest.agency if ingest else None,
        connector=trace.connector, message_type=trace.message_type,
        service=trace.service or (ingest.service if ingest else None),
        attempts=attempts,
        error_class=last_failure[1] if last_failure else None,
        error_message=last_failure[2] if last_failure else None,
        receipt_id=trace.receipt_id, delivered_ms=_ms(trace.delivered_at),
        replays=trace.replays,
        ingest_topic=trace.ingested.topic if trace.ingested else None,
        ingest_partition=trace.ingested.partition if trace.ingested else None,
        ingest_offset=trace.ingested.offset if trace.ingested else None,
        dead_partition=latest_dead.partition if latest_dead else None,
        dead_offset=latest_dead.offset if latest_dead else None,
        pending_replay_id=pending,
    )


def _ledger_text(rows: TraceRows, name: str) -> str | None:
    for row in rows.ledger:
        if row.get(name):
            return str(row[name])
    return None
