"""The index store: one SQL implementation over two databases (SQLite and PostgreSQL).

`IndexStore` is what the indexer, the API and the CLI use. The SQL is shared; what
differs between the databases (placeholders, list parameters, locks, bulk copy,
emptying tables) is behind `Database`, implemented in sqlite.py and postgres.py.

Writing a batch is one database transaction: the detail rows (insert-if-absent, keyed
by Kafka coordinates, so a record written twice changes nothing), the summaries of the
transactions they touch (recomputed from all their rows, so arrival order does not
matter), and the topic positions (only ever moved forward). After a crash the index
resumes from positions that match exactly what it holds.
"""

from __future__ import annotations

__all__ = [
    "INGEST_COLUMNS",
    "OUTCOME_COLUMNS",
    "SUMMARY_COLUMNS",
    "Database",
    "IndexRebuiltError",
    "IndexStore",
    "Transaction",
]

import time
from collections.abc import Iterable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol

from gateway.errors import IndexStoreError
from gateway.index.migrations import DATA_TABLES, MIGRATIONS
from gateway.index.model import (
    Changes,
    IngestRow,
    Page,
    ReplayCandidate,
    ServiceHealth,
    TraceRows,
    TransactionQuery,
    TransactionSummary,
)
from gateway.index.projection import datum_from_json, datum_to_json, from_ms, summarise
from gateway.kafka import TopicPartition
from gateway.logs import get_logger
from gateway.replay.deadletters import DeadLetter
from gateway.replay.filters import ReplayFilter
from gateway.topics import Topics
from gateway.trace.tracer import Hold, Submission

_log = get_logger(__name__)
_CHUNK = 500
Row = Sequence[Any]


class IndexRebuiltError(IndexStoreError):
    """The index was emptied for a rebuild while a writer held an older generation."""


class Transaction(Protocol):
    """Statements inside one database transaction (`?` placeholders)."""

    async def fetch(self, sql: str, *params: Any) -> list[Row]:
        """Rows of a query."""

    async def execute(self, sql: str, *params: Any) -> None:
        """Run one statement."""

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        """Run one statement per parameter row."""


class Database(Protocol):
    """What differs between SQLite and PostgreSQL."""

    kind: str
    """`sqlite` or `postgresql`."""
    where: str
    """The store for people: a file path, or host:port/database (never a password)."""

    async def fetch(self, sql: str, *params: Any) -> list[Row]:
        """A read outside any write transaction."""

    def transaction(self) -> AbstractAsyncContextManager[Transaction]:
        """A write transaction (serialised per store on SQLite)."""

    def any_of(self, column: str, values: Sequence[str]) -> tuple[str, list[Any]]:
        """`column` is one of `values`: the SQL and its parameters."""

    async def lock(self, tx: Transaction, ids: Sequence[str]) -> None:
        """Serialise writers of the same transactions (no-op where writes are serial)."""

    async def migration_lock(self, tx: Transaction) -> None:
        """Serialise replicas migrating at the same moment."""

    async def empty(self, tx: Transaction, tables: Sequence[str]) -> None:
        """Remove every row of the tables."""

    async def copy(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]
                   ) -> None:
        """Bulk insert (the bench's fast path; rows must be new)."""

    async def close(self) -> None:
        """Release connections."""


SUMMARY_COLUMNS = (
    "transaction_id", "status", "at_ms", "updated_ms", "business_key", "source_system",
    "agency", "connector", "message_type", "service", "attempts", "error_class",
    "error_message", "receipt_id", "delivered_ms", "replays", "ingest_topic", "ingest_part",
    "ingest_off", "dead_part", "dead_off", "pending_replay_id",
)
_SUMMARY_SELECT = ", ".join(SUMMARY_COLUMNS)
_UPSERT_SUMMARY = (
    f"INSERT INTO index_transactions ({_SUMMARY_SELECT}) VALUES "
    f"({', '.join('?' for _ in SUMMARY_COLUMNS)}) ON CONFLICT (transaction_id) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in SUMMARY_COLUMNS[1:])
)
INGEST_COLUMNS = ("transaction_id", "connector", "topic", "part", "off", "at_ms",
                   "business_key", "source_system", "agency", "message_type",
                   "correlation_id", "service")
# The earliest publication wins, whatever order the copies are read in.
_UPSERT_INGEST = (
    f"INSERT INTO index_ingestions ({', '.join(INGEST_COLUMNS)}) VALUES "
    f"({', '.join('?' for _ in INGEST_COLUMNS)}) ON CONFLICT (transaction_id) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in INGEST_COLUMNS[1:])
    + " WHERE excluded.at_ms < index_ingestions.at_ms OR (excluded.at_ms = "
    "index_ingestions.at_ms AND excluded.off < index_ingestions.off)"
)
OUTCOME_COLUMNS = ("part", "off", "transaction_id", "service", "outcome", "completed_ms",
                    "duration_ms", "datum")
_DEAD_COLUMNS = ("part", "off", "transaction_id", "timestamp_ms", "connector", "service",
                 "error_class", "message", "attempts", "stage", "http_status", "failed_topic",
                 "replay_id")
_HOLD_COLUMNS = ("topic", "part", "off", "transaction_id", "at_ms", "service", "reason")
_SUBMISSION_COLUMNS = ("part", "off", "transaction_id", "replay_id", "at_ms", "marker")


def _insert_new(table: str, columns: Sequence[str], key: str = "part, off") -> str:
    return (f"INSERT INTO {table} ({', '.join(columns)}) VALUES "
            f"({', '.join('?' for _ in columns)}) ON CONFLICT ({key}) DO NOTHING")


def _chunks(values: Sequence[str]) -> Iterable[Sequence[str]]:
    for i in range(0, len(values), _CHUNK):
        yield values[i:i + _CHUNK]


def _dead(row: Row) -> DeadLetter:
    return DeadLetter(
        transaction_id=row[2], partition=row[0], offset=row[1], timestamp_ms=row[3],
        connector=row[4], service=row[5], error_class=row[6], message=row[7],
        attempts=row[8], stage=row[9], http_status=row[10], failed_topic=row[11],
        replay_id=row[12])


def _summary(row: Row) -> TransactionSummary:
    return TransactionSummary(
        transaction_id=row[0], status=row[1], at_ms=row[2], updated_ms=row[3],
        business_key=row[4], source_system=row[5], agency=row[6], connector=row[7],
        message_type=row[8], service=row[9], attempts=row[10] or 0, error_class=row[11],
        error_message=row[12], receipt_id=row[13], delivered_ms=row[14], replays=row[15] or 0,
        ingest_topic=row[16], ingest_partition=row[17], ingest_offset=row[18],
        dead_partition=row[19], dead_offset=row[20], pending_replay_id=row[21])


def summary_row(s: TransactionSummary) -> tuple[Any, ...]:
    """The index_transactions row of a summary (column order of SUMMARY_COLUMNS)."""
    return (s.transaction_id, s.status, s.at_ms, s.updated_ms, s.business_key,
            s.source_system, s.agency, s.connector, s.message_type, s.service, s.attempts,
            s.error_class, s.error_message, s.receipt_id, s.delivered_ms, s.replays,
            s.ingest_topic, s.ingest_partition, s.ingest_offset, s.dead_partition,
            s.dead_offset, s.pending_replay_id)


def ingest_row(i: IngestRow) -> tuple[Any, ...]:
    """The index_ingestions row of an ingestion."""
    return (i.transaction_id, i.connector, i.topic, i.partition, i.offset, i.at_ms,
            i.business_key, i.source_system, i.agency, i.message_type, i.correlation_id,
            i.service)


class IndexStore:
    """The transaction index on one database (see `open_store` for choosing it)."""

    def __init__(self, db: Database, topics: Topics) -> None:
        self.db = db
        self._topics = topics

    @property
    def where(self) -> str:
        """The store for people (never a password)."""
        return f"{self.db.kind} {self.db.where}"

    async def close(self) -> None:
        """Release the connections."""
        await self.db.close()

    # -- schema --------------------------------------------------------------------------

    async def migrate(self) -> int:
        """Apply the migrations not applied yet; the schema version now."""
        async with self.db.transaction() as tx:
            await self.db.migration_lock(tx)
            await tx.execute("CREATE TABLE IF NOT EXISTS index_schema_version ("
                             "version INTEGER PRIMARY KEY, description TEXT NOT NULL, "
                             "applied_ms BIGINT NOT NULL)")
            rows = await tx.fetch("SELECT COALESCE(MAX(version), 0) FROM index_schema_version")
            current = int(rows[0][0])
            newest = MIGRATIONS[-1].version
            if current > newest:
                raise IndexStoreError(
                    f"the index at {self.where} has schema version {current}, newer than "
                    f"this gateway knows ({newest}): upgrade the gateway")
            for migration in MIGRATIONS:
                if migration.version <= current:
                    continue
                for statement in migration.statements:
                    await tx.execute(statement)
                await tx.execute("INSERT INTO index_schema_version (version, description, "
                                 "applied_ms) VALUES (?, ?, ?)", migration.version,
                                 migration.description, int(time.time() * 1000))
                _log.info("index schema migrated", store=self.where,
                          version=migration.version, description=migration.description)
                current = migration.version
        return current

    async def schema_version(self) -> int:
        """The newest applied migration."""
        rows = await self.db.fetch("SELECT COALESCE(MAX(version), 0) FROM index_schema_version")
        return int(rows[0][0])

    async def generation(self) -> int:
        """Changes whenever the index is emptied for a rebuild."""
        rows = await self.db.fetch("SELECT value FROM index_meta WHERE name = 'generation'")
        return int(rows[0][0])

    async def drop(self) -> int:
        """Empty every data table (a rebuild follows); the new generation."""
        async with self.db.transaction() as tx:
            await self.db.empty(tx, DATA_TABLES)
            await tx.execute("UPDATE index_meta SET value = value + 1 WHERE name = 'generation'")
            rows = await tx.fetch("SELECT value FROM index_meta WHERE name = 'generation'")
        return int(rows[0][0])

    # -- writing -------------------------------------------------------------------------

    async def positions(self) -> dict[TopicPartition, int]:
        """Per partition, the next offset to read."""
        rows = await self.db.fetch("SELECT topic, part, next_offset FROM index_positions")
        return {TopicPartition(r[0], int(r[1])): int(r[2]) for r in rows}

    async def apply(self, changes: Changes, positions: dict[TopicPartition, int],
                    generation: int) -> None:
        """Write one batch and the positions it reaches, as one transaction.

        IndexRebuiltError if the index was emptied since `generation` was read: the
        writer must read the positions again.
        """
        async with self.db.transaction() as tx:
            rows = await tx.fetch("SELECT value FROM index_meta WHERE name = 'generation'")
            if int(rows[0][0]) != generation:
                raise IndexRebuiltError("the index was emptied for a rebuild")
            await self._write_details(tx, changes)
            touched = sorted(changes.touched())
            if touched:
                await self.db.lock(tx, touched)
                found = await self._rows(tx, touched)
                await tx.executemany(_UPSERT_SUMMARY, [
                    summary_row(summarise(found[t], self._topics)) for t in touched])
            if positions:
                await tx.executemany(
                    "INSERT INTO index_positions (topic, part, next_offset) VALUES (?, ?, ?) "
                    "ON CONFLICT (topic, part) DO UPDATE SET next_offset = CASE WHEN "
                    "excluded.next_offset > index_positions.next_offset THEN "
                    "excluded.next_offset ELSE index_positions.next_offset END",
                    [(tp.topic, tp.partition, off) for tp, off in positions.items()])

    async def _write_details(self, tx: Transaction, changes: Changes) -> None:
        if changes.ingests:
            await tx.executemany(_UPSERT_INGEST, [ingest_row(i) for i in changes.ingests])
        if changes.ledger:
            await tx.executemany(_insert_new("index_outcomes", OUTCOME_COLUMNS), [
                (r.partition, r.offset, r.transaction_id, r.service, r.outcome,
                 r.completed_at_ms, r.duration_ms, datum_to_json(r.datum))
                for r in changes.ledger])
        if changes.dead_letters:
            await tx.executemany(_insert_new("index_dead_letters", _DEAD_COLUMNS), [
                (d.partition, d.offset, d.transaction_id, d.timestamp_ms, d.connector,
                 d.service, d.error_class, d.message, d.attempts, d.stage, d.http_status,
                 d.failed_topic, d.replay_id) for d in changes.dead_letters])
        if changes.submissions:
            await tx.executemany(_insert_new("index_submissions", _SUBMISSION_COLUMNS), [
                (s.partition, s.offset, t, s.replay_id, int(s.at.timestamp() * 1000), s.marker)
                for t, s in changes.submissions])
        if changes.holds:
            await tx.executemany(_insert_new("index_holds", _HOLD_COLUMNS, "topic, part, off"), [
                (h.topic, h.partition, h.offset, h.transaction_id, h.at_ms, h.service, h.reason)
                for h in changes.holds])
        if changes.replays:
            await tx.executemany(
                "INSERT INTO index_replays (replay_id, operator) VALUES (?, ?) ON CONFLICT "
                "(replay_id) DO UPDATE SET operator = excluded.operator",
                [(r.replay_id, r.operator) for r in changes.replays])

    async def _rows(self, tx: Transaction | None, ids: Sequence[str]) -> dict[str, TraceRows]:
        """Every detail row of these transactions."""
        fetch = tx.fetch if tx is not None else self.db.fetch
        found = {t: TraceRows(t) for t in ids}
        for chunk in _chunks(ids):
            where, params = self.db.any_of("transaction_id", chunk)
            for r in await fetch(f"SELECT {', '.join(INGEST_COLUMNS)} FROM index_ingestions "
                                 f"WHERE {where}", *params):
                found[r[0]].ingest = IngestRow(*r)
            for r in await fetch(f"SELECT transaction_id, datum FROM index_outcomes WHERE "
                                 f"{where} ORDER BY part, off", *params):
                found[r[0]].ledger.append(datum_from_json(r[1]))
            for r in await fetch(f"SELECT {', '.join(_DEAD_COLUMNS)} FROM index_dead_letters "
                                 f"WHERE {where} ORDER BY part, off", *params):
                found[r[2]].dead.append(_dead(r))
            for r in await fetch(f"SELECT transaction_id, replay_id, at_ms, marker, part, off "
                                 f"FROM index_submissions WHERE {where} ORDER BY part, off",
                                 *params):
                found[r[0]].submissions.append(Submission(
                    r[1], from_ms(r[2]), r[3], self._topics.replay, r[4], r[5]))
            for r in await fetch(f"SELECT transaction_id, at_ms, service, reason FROM "
                                 f"index_holds WHERE {where} ORDER BY topic, part, off",
                                 *params):
                found[r[0]].holds.append(Hold(from_ms(r[1]), r[2], r[3]))
        return found

    async def copy(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]
                   ) -> None:
        """Bulk insert of new rows (the bench's loading path)."""
        await self.db.copy(table, columns, rows)

    # -- reading -------------------------------------------------------------------------

    async def trace_rows(self, transaction_id: str) -> TraceRows | None:
        """Every row of one transaction and its replays' operators; None if unknown."""
        rows = (await self._rows(None, [transaction_id]))[transaction_id]
        if rows.empty:
            return None
        replay_ids = sorted({s.replay_id for s in rows.submissions if s.replay_id})
        if replay_ids:
            where, params = self.db.any_of("replay_id", replay_ids)
            for r in await self.db.fetch(
                    f"SELECT replay_id, operator FROM index_replays WHERE {where}", *params):
                rows.operators[r[0]] = r[1]
        return rows

    async def summary(self, transaction_id: str) -> TransactionSummary | None:
        """One transaction's row of the listing."""
        rows = await self.db.fetch(f"SELECT {_SUMMARY_SELECT} FROM index_transactions "
                                   "WHERE transaction_id = ? AND status IS NOT NULL",
                                   transaction_id)
        return _summary(rows[0]) if rows else None

    async def find(self, query: TransactionQuery) -> Page:
        """A filtered listing, newest first, one page from the keyset position."""
        where = ["status IS NOT NULL"]
        params: list[Any] = []
        for column, value in (("business_key", query.business_key),
                              ("service", query.service), ("status", query.outcome)):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        if query.since_ms is not None:
            where.append("at_ms >= ?")
            params.append(query.since_ms)
        if query.until_ms is not None:
            where.append("at_ms < ?")
            params.append(query.until_ms)
        if query.after is not None:
            where.append("(at_ms < ? OR (at_ms = ? AND transaction_id < ?))")
            params.extend((query.after[0], query.after[0], query.after[1]))
        rows = await self.db.fetch(
            f"SELECT {_SUMMARY_SELECT} FROM index_transactions WHERE {' AND '.join(where)} "
            "ORDER BY at_ms DESC, transaction_id DESC LIMIT ?", *params, query.limit + 1)
        found = [_summary(r) for r in rows[:query.limit]]
        more = len(rows) > query.limit and found
        return Page(found, (found[-1].at_ms, found[-1].transaction_id) if more else None)

    async def services(self, now_ms: int, period_s: int) -> list[ServiceHealth]:
        """Per national service: the last period's counts and durations, last times."""
        since = now_ms - period_s * 1000
        recent = await self.db.fetch(
            "SELECT service, "
            "SUM(CASE WHEN outcome = 'DELIVERED' THEN 1 ELSE 0 END), "
            "SUM(CASE WHEN outcome = 'DELIVERED' THEN 0 ELSE 1 END), "
            "MIN(duration_ms), AVG(duration_ms), MAX(duration_ms) "
            "FROM index_outcomes WHERE service IS NOT NULL AND completed_ms >= ? "
            "GROUP BY service", since)
        last = await self.db.fetch(
            "SELECT service, "
            "MAX(CASE WHEN outcome = 'DELIVERED' THEN completed_ms END), "
            "MAX(CASE WHEN outcome = 'DELIVERED' THEN NULL ELSE completed_ms END) "
            "FROM index_outcomes WHERE service IS NOT NULL GROUP BY service")
        counts = {r[0]: r for r in recent}
        health: list[ServiceHealth] = []
        for service, last_ok, last_bad in sorted(last, key=lambda r: r[0]):
            r = counts.get(service)
            health.append(ServiceHealth(
                service=service, period_s=period_s,
                successes=int(r[1]) if r else 0, failures=int(r[2]) if r else 0,
                last_success_ms=_int(last_ok), last_failure_ms=_int(last_bad),
                duration_min_ms=_float(r[3]) if r else None,
                duration_avg_ms=_float(r[4]) if r else None,
                duration_max_ms=_float(r[5]) if r else None))
        return health

    async def replay_candidates(self, flt: ReplayFilter) -> list[ReplayCandidate]:
        """Each dead-lettered transaction's latest failure that matches the filter."""
        where = ["t.status IS NOT NULL"]
        params: list[Any] = []
        for column, values in (("d.connector", flt.connectors), ("d.service", flt.services),
                               ("d.transaction_id", flt.transaction_ids)):
            if values:
                sql, extra = self.db.any_of(column, sorted(values))
                where.append(sql)
                params.extend(extra)
        if flt.failed_from is not None:
            where.append("d.timestamp_ms >= ?")
            params.append(int(flt.failed_from.timestamp() * 1000))
        if flt.failed_to is not None:
            where.append("d.timestamp_ms < ?")
            params.append(int(flt.failed_to.timestamp() * 1000))
        columns = ", ".join(f"d.{c}" for c in _DEAD_COLUMNS)
        rows = await self.db.fetch(
            f"SELECT {columns}, t.status, t.pending_replay_id FROM index_transactions t "
            "JOIN index_dead_letters d ON d.part = t.dead_part AND d.off = t.dead_off "
            f"WHERE {' AND '.join(where)}", *params)
        found = [ReplayCandidate(_dead(r), r[13], r[14]) for r in rows]
        return [c for c in found if flt.matches(c.dead)]

    async def known_ids(self, ids: Sequence[str]) -> set[str]:
        """Which of these transactions have a dead-letter record."""
        known: set[str] = set()
        for chunk in _chunks(ids):
            where, params = self.db.any_of("transaction_id", chunk)
            known.update(r[0] for r in await self.db.fetch(
                f"SELECT DISTINCT transaction_id FROM index_dead_letters WHERE {where}",
                *params))
        return known

    async def count(self) -> int:
        """How many transactions the index knows."""
        rows = await self.db.fetch("SELECT COUNT(*) FROM index_transactions")
        return int(rows[0][0])


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


def _float(value: Any) -> float | None:
    return None if value is None else float(value)
