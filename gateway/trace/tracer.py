"""Builds a `TransactionTrace` from what the topics hold about one transaction.

Scanned in parallel, each keeping only this transaction's records: the ledger (keyed by
transaction id: attempts, outcomes, receipt, source coordinates), the dead-letter topic
and the replay topic (by the `lgsp.transaction_id` header), then the audit records of
the replays found (who ran them). If the ledger has no record of the transaction's
source yet (it is still in flight), the connector topics are scanned for it.
"""

from __future__ import annotations

__all__ = ["Hold", "Submission", "Tracer", "add_holds", "assemble", "ingestion_from_ledger"]

import asyncio
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from gateway.contracts import Codec
from gateway.errors import ContractError, UnknownTransactionError
from gateway.headers import (
    H_HOLD_REASON,
    H_HOLD_SINCE,
    H_REPLAY,
    H_REPLAY_SOURCE,
    H_TRANSACTION,
)
from gateway.kafka import KafkaAdmin, Record
from gateway.logs import get_logger
from gateway.replay.audit import read_audits
from gateway.replay.deadletters import DeadLetter
from gateway.replay.masking import masked as _masked
from gateway.replay.scan import scan_all
from gateway.router.outcomes import LEDGER_SCHEMA
from gateway.topics import Topics
from gateway.trace.model import (
    EventKind,
    Ingestion,
    TraceEvent,
    TraceStatus,
    TransactionTrace,
)

_log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Submission:
    """A re-submission of the transaction on the replay topic."""

    replay_id: str
    at: datetime
    marker: str | None
    topic: str
    partition: int
    offset: int


@dataclass(frozen=True, slots=True)
class Hold:
    """A held copy of the transaction in its service's hold topic."""

    at: datetime
    service: str
    reason: str


def _at(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


class Tracer:
    """Answers "what happened to transaction X?" from Kafka alone."""

    def __init__(self, bootstrap_servers: str, topics: Topics, codec: Codec) -> None:
        self._bootstrap = bootstrap_servers
        self._topics = topics
        self._codec = codec

    async def trace(self, transaction_id: str) -> TransactionTrace:
        """The transaction's path; UnknownTransactionError if no topic knows it."""
        key = transaction_id.encode()
        ledger: list[dict[str, Any]] = []
        dead: list[DeadLetter] = []
        submissions: list[Submission] = []
        ledger_schema = self._codec.registry.latest(LEDGER_SCHEMA)

        def visit_ledger(rec: Record) -> None:
            if rec.key != key or rec.value is None:
                return
            try:
                ledger.append(self._codec.decode(rec.value, ledger_schema))
            except ContractError as exc:
                _log.warning("undecodable ledger record skipped", topic=rec.topic,
                             partition=rec.partition, offset=rec.offset,
                             transaction_id=transaction_id, error=str(exc))

        def visit_dead(rec: Record) -> None:
            if rec.header(H_TRANSACTION) == key:
                found = DeadLetter.from_record(rec)
                if found is not None:
                    dead.append(found)

        def visit_replay(rec: Record) -> None:
            if rec.header(H_TRANSACTION) != key:
                return
            replay = rec.header(H_REPLAY)
            marker = rec.header(H_REPLAY_SOURCE)
            submissions.append(Submission(
                replay.decode(errors="replace") if replay else "", _at(rec.timestamp_ms),
                marker.decode(errors="replace") if marker else None, rec.topic,
                rec.partition, rec.offset))

        holds: list[Hold] = []

        def visit_hold(rec: Record) -> None:
            if rec.header(H_TRANSACTION) != key:
                return
            since = rec.header(H_HOLD_SINCE)
            reason = rec.header(H_HOLD_REASON)
            holds.append(Hold(
                _at(int(since) if since and since.isdigit() else rec.timestamp_ms),
                self._topics.held_service(rec.topic) or "",
                reason.decode(errors="replace") if reason else "its service was unavailable"))

        t = self._topics
        topics = await self._topic_names()
        hold_topics = sorted(n for n in topics if n.startswith(t.hold_prefix))
        await asyncio.gather(scan_all(self._bootstrap, [t.ledger], visit_ledger),
                             scan_all(self._bootstrap, [t.dead_letter], visit_dead),
                             scan_all(self._bootstrap, [t.replay], visit_replay),
                             scan_all(self._bootstrap, hold_topics, visit_hold))
        ingestion = self._ingestion_from_ledger(ledger)
        if ingestion is None:
            ingestion = await self._find_ingestion(key, topics)
        if ingestion is None and not (ledger or dead or submissions or holds):
            raise UnknownTransactionError(
                f"transaction {transaction_id} is unknown: no connector topic, ledger, "
                f"dead-letter or replay record of it under topic prefix {t.prefix!r}")
        replay_ids = sorted({s.replay_id for s in submissions if s.replay_id})
        operators = {r: a.operator for r, a in (await read_audits(
            self._bootstrap, t.replay_audit, self._codec, set(replay_ids))).items()} \
            if replay_ids else {}
        trace = assemble(transaction_id, ingestion=ingestion, ledger=ledger, dead=dead,
                          submissions=submissions, operators=operators, replay_ids=replay_ids)
        add_holds(trace, holds)
        return trace

    async def _topic_names(self) -> set[str]:
        admin = KafkaAdmin(self._bootstrap, client_id="lgsp-trace-admin")
        await admin.start()
        try:
            return await admin.list_topics()
        finally:
            await admin.stop()

    def _ingestion_from_ledger(self, ledger: Sequence[dict[str, Any]]) -> Ingestion | None:
        return ingestion_from_ledger(ledger, self._topics)

    async def _find_ingestion(self, key: bytes, names: set[str]) -> Ingestion | None:
        pattern = re.compile(self._topics.source_pattern)
        sources = sorted(n for n in names if pattern.match(n))
        found: list[Record] = []

        def visit(rec: Record) -> None:
            if rec.header(H_TRANSACTION) == key:
                found.append(rec)

        if sources:
            await scan_all(self._bootstrap, sources, visit)
        if not found:
            return None
        first = min(found, key=lambda r: (r.timestamp_ms, r.offset))
        connector = first.topic[len(f"{self._topics.prefix}src."):]
        return Ingestion(connector, first.topic, first.partition, first.offset,
                         _at(first.timestamp_ms), "scan")


def ingestion_from_ledger(ledger: Sequence[dict[str, Any]], topics: Topics) -> Ingestion | None:
    """Where the router says it read the transaction (its first chain from a source topic)."""
    source_prefix = f"{topics.prefix}src."
    for row in sorted(ledger, key=lambda r: r["completed_at"]):
        if row["source_topic"].startswith(source_prefix):
            return Ingestion(row["connector"], row["source_topic"], row["source_partition"],
                             row["source_offset"], row["ingested_at"], "ledger")
    return None


def assemble(
    transaction_id: str,
    *,
    ingestion: Ingestion | None,
    ledger: list[dict[str, Any]],
    dead: list[DeadLetter],
    submissions: list[Submission],
    operators: dict[str, str],
    replay_ids: list[str],
) -> TransactionTrace:
    """The trace from what the topics (or the index, which mirrors them) hold."""
    trace = TransactionTrace(transaction_id, TraceStatus.IN_FLIGHT, ingested=ingestion,
                             replay_ids=replay_ids)
    events = trace.events
    if ingestion is not None:
        trace.connector = ingestion.connector
        events.append(TraceEvent(
            ingestion.at or datetime.min.replace(tzinfo=UTC), EventKind.INGESTED,
            f"ingested by connector {ingestion.connector} into {ingestion.topic} "
            f"partition {ingestion.partition} offset {ingestion.offset}",
            details={"topic": ingestion.topic, "partition": ingestion.partition,
                     "offset": ingestion.offset, "found_by": ingestion.found_by}))
    dead_replays = {d.replay_id for d in dead}
    for row in sorted(ledger, key=lambda r: r["completed_at"]):
        trace.connector = trace.connector or row["connector"]
        trace.service = row["service"] or trace.service
        trace.message_type = row["message_type"] or trace.message_type
        trace.correlation_id = row["correlation_id"] or trace.correlation_id
        replay = row["replay_id"]
        for n, attempt in enumerate(row["attempt_log"], start=1):
            status = attempt["status"]
            text = f"attempt {n}: {attempt['result']}"
            if status is not None:
                text += f" (HTTP {status})"
            if attempt["message"]:
                text += f": {_masked(attempt['message'])}"
            events.append(TraceEvent(attempt["at"], EventKind.ATTEMPT, text, replay, {
                "number": n, "result": attempt["result"], "http_status": status,
                "duration_ms": round(attempt["duration_ms"], 1),
                "message": _masked(attempt["message"]) or None,
                "service": row["service"]}))
        if row["outcome"] == "DELIVERED":
            recovered = any(a["result"] == "recovered" for a in row["attempt_log"])
            how = " (the national side already had it: reconciled, not re-sent)" \
                if recovered or row["duplicate_at_endpoint"] else ""
            events.append(TraceEvent(row["completed_at"], EventKind.DELIVERED,
                                     f"delivered to {row['service']}, receipt "
                                     f"{row['receipt_id']}{how}", replay, {
                                         "receipt_id": row["receipt_id"],
                                         "service": row["service"],
                                         "reconciled": recovered,
                                         "latency_ms": row["latency_ms"]}))
            if trace.delivered_at is None:
                trace.status = TraceStatus.DELIVERED
                trace.receipt_id = row["receipt_id"]
                trace.delivered_at = row["completed_at"]
        elif replay not in dead_replays:
            # The dead-letter record is gone (retention); the ledger still says why.
            short = (row["error_class"] or "").rpartition(".")[2]
            events.append(TraceEvent(row["completed_at"], EventKind.DEAD_LETTERED,
                                     f"dead-lettered after {row['attempts']} attempts: "
                                     f"{short}: {_masked(row['error_message'])}", replay, {
                                         "error_class": row["error_class"],
                                         "message": _masked(row["error_message"]),
                                         "attempts": row["attempts"]}))
    for d in dead:
        trace.connector = trace.connector or d.connector or None
        trace.service = trace.service or d.service or None
        events.append(TraceEvent(_at(d.timestamp_ms), EventKind.DEAD_LETTERED,
                                 f"dead-lettered after {d.attempts} attempts: {d.error_short}: "
                                 f"{_masked(d.message)}", d.replay_id, {
                                     "error_class": d.error_class, "message": _masked(d.message),
                                     "attempts": d.attempts, "stage": d.stage,
                                     "http_status": d.http_status, "failed_topic": d.failed_topic,
                                     "dead_letter_partition": d.partition,
                                     "dead_letter_offset": d.offset}))
    for s in submissions:
        who = operators.get(s.replay_id)
        events.append(TraceEvent(s.at, EventKind.REPLAY_SUBMITTED,
                                 f"re-submitted by replay {s.replay_id or '(unnamed)'}"
                                 + (f" run by {who}" if who else ""), s.replay_id or None, {
                                     "operator": who, "replay_partition": s.partition,
                                     "replay_offset": s.offset}))
    order = list(EventKind)
    events.sort(key=lambda e: (e.at, order.index(e.kind)))
    if trace.status is not TraceStatus.DELIVERED:
        trace.status = _open_status(ledger, dead, submissions)
    return trace


def add_holds(trace: TransactionTrace, holds: list[Hold]) -> None:
    """Each time it was held for its service, and HELD if it still waits there."""
    if not holds:
        return
    for hold in holds:
        trace.service = trace.service or hold.service or None
        trace.events.append(TraceEvent(
            hold.at, EventKind.HELD,
            f"held for national service {hold.service}: {hold.reason}; it is delivered by "
            "itself when the service answers", None, {"service": hold.service,
                                                      "reason": hold.reason}))
    order = list(EventKind)
    trace.events.sort(key=lambda e: (e.at, order.index(e.kind)))
    latest = max(h.at for h in holds)
    settled_after = any(e.at >= latest and e.kind in (EventKind.DELIVERED,
                                                      EventKind.DEAD_LETTERED)
                        for e in trace.events)
    if trace.status is not TraceStatus.DELIVERED and not settled_after:
        trace.status = TraceStatus.HELD


def _open_status(ledger: list[dict[str, Any]], dead: list[DeadLetter],
                 submissions: list[Submission]) -> TraceStatus:
    """Not delivered: dead-lettered, re-submitted and waiting, or still in flight."""
    if dead:
        latest = dead[0]
        for d in dead[1:]:
            if d.newer_than(latest):
                latest = d
        for s in submissions:
            if s.marker == latest.marker or (s.marker is None and
                                             s.at >= _at(latest.timestamp_ms)):
                return TraceStatus.REPLAY_PENDING
        return TraceStatus.DEAD_LETTERED
    if any(row["outcome"] == "DEAD_LETTERED" for row in ledger):
        return TraceStatus.DEAD_LETTERED
    return TraceStatus.IN_FLIGHT
