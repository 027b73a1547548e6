"""Bench scenario `index`: the transaction index at size, on SQLite and on PostgreSQL.

Per store: N transactions are loaded straight through the store's bulk path (a
transaction row, its ingestion and one ledger outcome each; one in 25 dead-lettered),
then measured:

- lookup by id (what `GET /transactions/{id}` does: every row of the transaction and
  its trace) and by business key (`GET /transactions?business_key=`), p50/p99 of
  random keys;
- ingest: the indexer's own write path (project real Avro records, apply in batches
  with positions) for new transactions, each an ingestion and an outcome: outcomes/s;
- rebuild: the index emptied, then the same path from an empty store with rebuild-sized
  batches: records/s (the Kafka read is not included; baseline K measures it).

PostgreSQL is a private throw-away server (like the private broker) unless a URL is
given. Targets (printed, not asserted): lookups p99 under 50 ms at 10 M, ingest at
least 15,000 outcomes/s, rebuild at least 50,000 records/s.
"""

from __future__ import annotations

__all__ = ["index_scenario", "render_index"]

import asyncio
import random
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from devkit.bench.payloads import DOSSIER_EVENT, PROVINCE, SOURCE_SYSTEM, DossierEvents
from devkit.bench.postgres_server import PostgresServer
from gateway.contracts import Codec, Envelope
from gateway.index import IndexStore, Projector, open_store, trace_of
from gateway.index.projection import datum_to_json
from gateway.index.queries import transaction_query
from gateway.index.store import INGEST_COLUMNS, OUTCOME_COLUMNS, SUMMARY_COLUMNS
from gateway.kafka import Record, TopicPartition
from gateway.router.outcomes import LEDGER_SCHEMA, Attempt, Outcome, encode_ledger
from gateway.settings import Settings
from gateway.topics import Topics

Progress = Callable[[str], None]
SERVICES = ("QG.DVCQG.DONGBOHOSO", "QG.VBDT.GUINHAN", "QG.HTBC.NOPBAOCAO")
_CHUNK = 50_000
_LOOKUPS = 2_000
_BATCH = 2_000
_REBUILD_BATCH = 5_000
_T0 = datetime(2026, 1, 1, tzinfo=UTC)
_TOPICS = Topics("benchindex.")


def _tx(i: int) -> str:
    # Random-looking like the connectors' ids (uuid4 / content-derived), but repeatable:
    # sequential ids make every B-tree insert an append and hide the cost that grows
    # with the index once inserts land on random pages.
    return str(uuid.uuid5(uuid.NAMESPACE_OID, f"lgsp-bench-index-{i}"))


def _key(i: int) -> str:
    return f"H12-{i:09d}"


def _rows(first: int, count: int) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]],
                                            list[tuple[Any, ...]]]:
    """Summary, ingestion and outcome rows of transactions first..first+count."""
    summaries, ingests, outcomes = [], [], []
    source = _TOPICS.source("one-stop")
    for i in range(first, first + count):
        tx, key, service = _tx(i), _key(i), SERVICES[i % 3]
        at = int((_T0 + timedelta(seconds=i * 0.3)).timestamp() * 1000)
        dead = i % 25 == 0
        status = "DEAD_LETTERED" if dead else "DELIVERED"
        part, off = i % 12, i // 12
        summaries.append((tx, status, at, at + 900, key, SOURCE_SYSTEM, PROVINCE, "one-stop",
                          DOSSIER_EVENT, service, 1,
                          "gateway.errors.TransientForwardError" if dead else None,
                          "HTTP 503" if dead else None, None if dead else f"rc-{i}",
                          None if dead else at + 900, 0, source, part, off, None, None, None))
        ingests.append((tx, "one-stop", source, part, off, at, key, SOURCE_SYSTEM, PROVINCE,
                        DOSSIER_EVENT, key, None))
        datum = {"transaction_id": tx, "outcome": status, "service": service,
                 "connector": "one-stop", "source_system": SOURCE_SYSTEM,
                 "message_type": DOSSIER_EVENT, "correlation_id": key,
                 "receipt_id": None if dead else f"rc-{i}", "duplicate_at_endpoint": False,
                 "attempts": 1, "attempt_log": [{"at": _iso(at + 800), "duration_ms": 80.0 + i % 40,
                                                 "result": "transient_error" if dead
                                                 else "delivered", "status": 503 if dead
                                                 else 200, "message": None}],
                 "error_class": "gateway.errors.TransientForwardError" if dead else None,
                 "error_message": "HTTP 503" if dead else None, "source_topic": source,
                 "source_partition": part, "source_offset": off, "occurred_at": _iso(at),
                 "ingested_at": _iso(at), "completed_at": _iso(at + 900),
                 "latency_ms": None, "replay_id": None}
        outcomes.append((part, off, tx, service, status, at + 900, 80.0 + i % 40,
                         datum_to_json(datum)))
    return summaries, ingests, outcomes


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat()


async def _load(store: IndexStore, n: int, progress: Progress, name: str) -> float:
    began = time.perf_counter()
    for first in range(0, n, _CHUNK):
        count = min(_CHUNK, n - first)
        summaries, ingests, outcomes = await asyncio.to_thread(_rows, first, count)
        await store.copy("index_transactions", SUMMARY_COLUMNS, summaries)
        await store.copy("index_ingestions", INGEST_COLUMNS, ingests)
        await store.copy("index_outcomes", OUTCOME_COLUMNS, outcomes)
        done = first + count
        if done % 1_000_000 == 0 or done == n:
            progress(f"index ({name}): {done:,} of {n:,} loaded")
    return n / (time.perf_counter() - began)


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def _lookups(store: IndexStore, n: int) -> dict[str, float]:
    rng = random.Random(7)  # noqa: S311 - which keys to look up, not a secret
    by_id: list[float] = []
    by_key: list[float] = []
    for _ in range(_LOOKUPS):
        i = rng.randrange(n)
        t = time.perf_counter()
        rows = await store.trace_rows(_tx(i))
        assert rows is not None, "a loaded transaction is missing"
        trace_of(rows, _TOPICS)
        by_id.append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        page = await store.find(transaction_query(business_key=_key(rng.randrange(n))))
        by_key.append((time.perf_counter() - t) * 1000)
        assert len(page.rows) == 1
    return {"id_p50_ms": round(statistics.median(by_id), 2),
            "id_p99_ms": round(_pct(by_id, 0.99), 2),
            "business_key_p50_ms": round(statistics.median(by_key), 2),
            "business_key_p99_ms": round(_pct(by_key, 0.99), 2)}


def _records(codec: Codec, first: int, count: int) -> list[Record]:
    """Real Avro records of `count` new delivered transactions: ingestion + outcome."""
    ledger = codec.registry.latest(LEDGER_SCHEMA)
    payload_schema = codec.registry.latest(DOSSIER_EVENT)
    payload = codec.encode(payload_schema, _payload_datum())
    source = _TOPICS.source("one-stop")
    now = datetime.now(UTC)
    records: list[Record] = []
    for i in range(first, first + count):
        tx, key = _tx(i), _key(i)
        env = Envelope(transaction_id=tx, correlation_id=key, source_system=SOURCE_SYSTEM,
                       connector="one-stop", source_agency_code=PROVINCE, target_service=None,
                       message_type=DOSSIER_EVENT, schema_version=payload_schema.version,
                       business_key=key, occurred_at=now, ingested_at=now, payload=payload)
        ms = int(now.timestamp() * 1000)
        src = Record(source, i % 12, 10_000_000 + i, key.encode(), env.encode(codec), (), ms)
        out = Outcome(record=src, connector="one-stop", transaction_id=tx,
                      service=SERVICES[i % 3], delivered=True,
                      attempts=[Attempt(now, 80.0, "delivered", 200)], receipt_id=f"rc-{i}",
                      correlation_id=key, source_system=SOURCE_SYSTEM,
                      message_type=DOSSIER_EVENT, occurred_at=now, ingested_at=now,
                      completed_at=now)
        records.append(src)
        records.append(Record(_TOPICS.ledger, i % 3, 10_000_000 + i, tx.encode(),
                              encode_ledger(codec, ledger, out), (), ms))
    return records


def _payload_datum() -> dict[str, Any]:
    return DossierEvents("IDX").datum(1)


async def _apply_all(store: IndexStore, projector: Projector, records: list[Record],
                     batch: int) -> float:
    """Seconds to project and apply the records in batches, positions included."""
    generation = await store.generation()
    began = time.perf_counter()
    for i in range(0, len(records), batch):
        chunk = records[i:i + batch]
        positions: dict[TopicPartition, int] = {}
        for r in chunk:
            positions[r.tp] = max(positions.get(r.tp, 0), r.offset + 1)
        await store.apply(projector.project(chunk), positions, generation)
    return time.perf_counter() - began


async def _one_store(settings: Settings, codec: Codec, *, url: str, name: str, n: int,
                     ingest: int, progress: Progress) -> dict[str, Any]:
    store = await open_store(settings, _TOPICS, url=url)
    try:
        await store.drop()
        progress(f"index ({name}): loading {n:,} transactions through the bulk path")
        load_rate = await _load(store, n, progress, name)
        progress(f"index ({name}): {_LOOKUPS:,} lookups by id and by business key")
        result: dict[str, Any] = {"store": name, "transactions": n,
                                  "bulk_load_per_s": round(load_rate)}
        result.update(await _lookups(store, n))
        records = await asyncio.to_thread(_records, codec, n, ingest)
        projector = Projector(_TOPICS, codec)
        progress(f"index ({name}): ingest {ingest:,} new transactions (indexer path)")
        seconds = await _apply_all(store, projector, records, _BATCH)
        result["ingest_outcomes_per_s"] = round(ingest / seconds)
        progress(f"index ({name}): rebuild {len(records):,} records into an emptied index")
        await store.drop()
        seconds = await _apply_all(store, projector, records, _REBUILD_BATCH)
        result["rebuild_records_per_s"] = round(len(records) / seconds)
        return result
    finally:
        await store.close()


async def index_scenario(settings: Settings, codec: Codec, *, transactions: int,
                         postgres_url: str | None, progress: Progress) -> dict[str, Any]:
    """Both stores at `transactions` size; the JSON section `index`."""
    ingest = max(1_000, min(50_000, transactions // 20))
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="lgsp-bench-index-") as tmp:
        url = f"sqlite:///{Path(tmp) / 'index.sqlite3'}"
        results.append(await _one_store(settings, codec, url=url, name="sqlite",
                                        n=transactions, ingest=ingest, progress=progress))
    if postgres_url is not None:
        results.append(await _one_store(settings, codec, url=postgres_url,
                                        name="postgresql", n=transactions, ingest=ingest,
                                        progress=progress))
    else:
        server = PostgresServer()
        progress("index: starting a private PostgreSQL server")
        await asyncio.to_thread(server.start)
        try:
            results.append(await _one_store(settings, codec, url=server.url(),
                                            name="postgresql", n=transactions,
                                            ingest=ingest, progress=progress))
        finally:
            await asyncio.to_thread(server.stop)
    return {"stores": results, "targets": {"lookup_p99_ms": 50, "ingest_outcomes_per_s": 15_000,
                                           "rebuild_records_per_s": 50_000}}


def render_index(doc: dict[str, Any], console: Console) -> None:
    """The index section as a table (if the run had it)."""
    section = doc.get("index")
    if not section:
        return
    table = Table(title="transaction index")
    for column in ("store", "transactions", "id p50/p99 ms", "key p50/p99 ms",
                   "ingest outcomes/s", "rebuild records/s", "bulk load tx/s"):
        table.add_column(column, justify="left" if column == "store" else "right")
    for r in section["stores"]:
        table.add_row(r["store"], f"{r['transactions']:,}",
                      f"{r['id_p50_ms']:.2f} / {r['id_p99_ms']:.2f}",
                      f"{r['business_key_p50_ms']:.2f} / {r['business_key_p99_ms']:.2f}",
                      f"{r['ingest_outcomes_per_s']:,}", f"{r['rebuild_records_per_s']:,}",
                      f"{r['bulk_load_per_s']:,}")
    console.print(table)
    t = section["targets"]
    console.print(f"  targets: lookup p99 < {t['lookup_p99_ms']} ms at 10 M, ingest >= "
                  f"{t['ingest_outcomes_per_s']:,} outcomes/s, rebuild >= "
                  f"{t['rebuild_records_per_s']:,} records/s")
