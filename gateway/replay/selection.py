"""Selection: which dead-lettered transactions a replay re-submits, and which it skips.

Three streaming scans, memory bound by the selection, not by the topics:

1. the dead-letter topic: the latest dead-letter record of each transaction, kept only
   while it matches the filter (records of one transaction share a partition, so the
   last one seen is the latest);
2. the replay topic: was that latest dead-letter record re-submitted already? A
   submission names the record it re-submits (`lgsp.replay.dead_letter`); one from an
   older tool without that header counts if it is not older than the failure;
3. the ledger (keyed by transaction id, so only candidates are decoded): delivered?

Eligible = latest failure matches, not yet re-submitted, not delivered. So a replay run
twice sends nothing the second time, a killed run resumes with what it had not sent,
and a transaction that failed again after a replay can be replayed again.
"""

from __future__ import annotations

__all__ = ["Selection", "select"]

import asyncio
from dataclasses import dataclass, field

from gateway.contracts import Codec
from gateway.errors import ContractError, EmptySelectionError, UnknownTransactionError
from gateway.headers import H_REPLAY, H_REPLAY_SOURCE, H_TRANSACTION
from gateway.kafka import Record, TopicPartition
from gateway.logs import get_logger
from gateway.replay.deadletters import DeadLetter
from gateway.replay.filters import ReplayFilter
from gateway.replay.scan import ScanStats, scan_all
from gateway.router.outcomes import LEDGER_SCHEMA
from gateway.topics import Topics

_log = get_logger(__name__)


@dataclass(slots=True)
class Selection:
    """The result of selecting: what to re-submit, what is skipped and why."""

    filter: ReplayFilter
    eligible: list[DeadLetter]
    """Latest dead-letter record of each transaction to re-submit, oldest failure first."""
    already_delivered: list[str] = field(default_factory=list)
    already_submitted: dict[str, str] = field(default_factory=dict)
    """Transaction id -> replay id of the run that re-submitted its latest failure."""
    undecodable: int = 0
    """Dead-letter records without a transaction id (undecodable): never replayable."""
    ledger_positions: dict[TopicPartition, int] = field(default_factory=dict)
    """Where the ledger ended when it was scanned: outcomes of this run come after."""
    stats: list[ScanStats] = field(default_factory=list)

    @property
    def matched(self) -> int:
        """Transactions whose latest failure matches the filter."""
        return len(self.eligible) + len(self.already_delivered) + len(self.already_submitted)

    def dead_letter_start(self, topic: str) -> dict[TopicPartition, int]:
        """Per dead-letter partition, the first offset the submit pass must read."""
        start: dict[TopicPartition, int] = {}
        for dead in self.eligible:
            tp = TopicPartition(topic, dead.partition)
            start[tp] = min(start.get(tp, dead.offset), dead.offset)
        return start


async def select(bootstrap_servers: str, topics: Topics, codec: Codec,
                 flt: ReplayFilter) -> Selection:
    """Scan the topics and decide; raises UnknownTransactionError or EmptySelectionError."""
    found = await _latest_failures(bootstrap_servers, topics.dead_letter, flt)
    unknown = sorted(flt.transaction_ids - found.seen_ids)
    if unknown:
        more = f" (and {len(unknown) - 1} more)" if len(unknown) > 1 else ""
        raise UnknownTransactionError(
            f"transaction {unknown[0]}{more} has no dead-letter record: it never failed or "
            f"the id is wrong (`lgsp trace {unknown[0]}` shows its path); nothing replayed")
    candidates = found.candidates
    if not candidates:
        raise EmptySelectionError(
            f"no dead-lettered transaction matches the filter ({flt.describe()}); "
            "nothing replayed")
    (submitted, replay_stats), (delivered, positions, ledger_stats) = await asyncio.gather(
        _submissions(bootstrap_servers, topics.replay, candidates),
        _delivered(bootstrap_servers, topics.ledger, codec, candidates),
    )
    selection = Selection(flt, [], undecodable=found.undecodable, ledger_positions=positions,
                          stats=[found.stats, replay_stats, ledger_stats])
    for tx, dead in candidates.items():
        if tx in delivered:
            selection.already_delivered.append(tx)
        elif tx in submitted:
            selection.already_submitted[tx] = submitted[tx]
        else:
            selection.eligible.append(dead)
    selection.eligible.sort(key=lambda d: (d.timestamp_ms, d.partition, d.offset))
    _log.info("replay selection", filter=flt.describe(), matched=selection.matched,
              eligible=len(selection.eligible), delivered=len(selection.already_delivered),
              submitted=len(selection.already_submitted), undecodable=found.undecodable,
              scanned={"|".join(s.topics): s.records for s in selection.stats})
    return selection


@dataclass(slots=True)
class _Failures:
    candidates: dict[str, DeadLetter] = field(default_factory=dict)
    seen_ids: set[str] = field(default_factory=set)
    undecodable: int = 0
    stats: ScanStats = field(default_factory=lambda: ScanStats(()))


async def _latest_failures(bootstrap_servers: str, topic: str, flt: ReplayFilter) -> _Failures:
    """Each transaction's latest dead-letter record, if it matches the filter."""
    found = _Failures()
    candidates = found.candidates

    def visit(rec: Record) -> None:
        dead = DeadLetter.from_record(rec)
        if dead is None:
            found.undecodable += 1
            return
        tx = dead.transaction_id
        if flt.transaction_ids:
            if tx not in flt.transaction_ids:
                return
            found.seen_ids.add(tx)
        current = candidates.get(tx)
        if current is not None and not dead.newer_than(current):
            return
        if flt.matches(dead):
            candidates[tx] = dead
        else:
            # Its latest failure no longer matches (e.g. it failed again differently).
            candidates.pop(tx, None)

    found.stats = await scan_all(bootstrap_servers, [topic], visit)
    return found


async def _submissions(bootstrap_servers: str, topic: str, candidates: dict[str, DeadLetter]
                       ) -> tuple[dict[str, str], ScanStats]:
    """Candidates whose latest failure was re-submitted already -> the replay id."""
    submitted: dict[str, str] = {}

    def visit(rec: Record) -> None:
        raw = rec.header(H_TRANSACTION)
        dead = candidates.get(raw.decode(errors="replace")) if raw else None
        if dead is None:
            return
        marker = rec.header(H_REPLAY_SOURCE)
        if marker is not None:
            hit = marker.decode(errors="replace") == dead.marker
        else:  # written by something other than this replay: judge by time
            hit = rec.timestamp_ms >= dead.timestamp_ms
        if hit:
            replay = rec.header(H_REPLAY)
            submitted[dead.transaction_id] = replay.decode(errors="replace") if replay else ""

    return submitted, await scan_all(bootstrap_servers, [topic], visit)


async def _delivered(bootstrap_servers: str, topic: str, codec: Codec,
                     candidates: dict[str, DeadLetter]
                     ) -> tuple[set[str], dict[TopicPartition, int], ScanStats]:
    """Candidates the ledger says are delivered, and where the ledger ended."""
    delivered: set[str] = set()
    positions: dict[TopicPartition, int] = {}
    by_key = {tx.encode(): tx for tx in candidates}
    ledger_schema = codec.registry.latest(LEDGER_SCHEMA)

    def visit(rec: Record) -> None:
        positions[rec.tp] = rec.offset + 1
        tx = by_key.get(rec.key) if rec.key is not None else None
        if tx is None or rec.value is None:
            return
        try:
            outcome = codec.decode(rec.value, ledger_schema).get("outcome")
        except ContractError as exc:
            # One bad ledger record must not stop a replay; it is named so it gets fixed.
            _log.warning("undecodable ledger record skipped", topic=rec.topic,
                         partition=rec.partition, offset=rec.offset, transaction_id=tx,
                         error=str(exc))
            return
        if outcome == "DELIVERED":
            delivered.add(tx)

    stats = await scan_all(bootstrap_servers, [topic], visit)
    return delivered, positions, stats
