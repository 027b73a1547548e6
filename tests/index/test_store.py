"""The index store on SQLite and on a real PostgreSQL server: what the topics hold is
what the queries answer, whatever the order, however often a record is written."""

from __future__ import annotations

from datetime import timedelta

import pytest

from gateway.contracts import Codec
from gateway.errors import ConfigError
from gateway.index import IndexStore, Projector, open_store, summarise, trace_of
from gateway.index.migrations import MIGRATIONS
from gateway.index.queries import encode_cursor, transaction_query
from gateway.index.store import IndexRebuiltError
from gateway.kafka import TopicPartition
from gateway.replay import ReplayFilter
from gateway.settings import Settings
from gateway.topics import Topics
from tests.index.records import SERVICE, T0, Topicset

TOPICS = Topics("lgsp.")


async def _store(url: str) -> IndexStore:
    return await open_store(Settings(), TOPICS, url=url)


def _story(codec: Codec) -> tuple[Topicset, dict[str, list[str]]]:
    """Ten delivered, four dead-lettered, two replayed and delivered, one replay pending."""
    ts = Topicset(TOPICS, codec)
    ids: dict[str, list[str]] = {"delivered": [], "dead": [], "recovered": [], "pending": []}
    for n in range(10):
        ids["delivered"].append(ts.transaction(n, outcome="DELIVERED",
                                               at=T0 + timedelta(minutes=n),
                                               duration_ms=10.0 + n))
    for n in range(10, 14):
        ids["dead"].append(ts.transaction(n, outcome="DEAD_LETTERED",
                                          at=T0 + timedelta(minutes=n)))
    for n in range(14, 16):
        ids["recovered"].append(ts.transaction(n, outcome="DELIVERED", replayed=True,
                                               at=T0 + timedelta(minutes=n)))
    ids["pending"].append(ts.transaction(16, outcome="DEAD_LETTERED", replayed=True,
                                         at=T0 + timedelta(minutes=16)))
    return ts, ids


async def _load(store: IndexStore, ts: Topicset, codec: Codec, *, batch: int = 7,
                reverse: bool = False) -> None:
    projector = Projector(TOPICS, codec)
    records = list(reversed(ts.records)) if reverse else ts.records
    generation = await store.generation()
    for i in range(0, len(records), batch):
        chunk = records[i:i + batch]
        positions: dict[TopicPartition, int] = {}
        for r in chunk:
            positions[r.tp] = max(positions.get(r.tp, 0), r.offset + 1)
        await store.apply(projector.project(chunk), positions, generation)


async def _answers(store: IndexStore) -> dict[str, object]:
    """Everything the queries answer, for comparing two stores or two loads."""
    pages = {}
    for outcome in ("DELIVERED", "DEAD_LETTERED", "REPLAY_PENDING", "IN_FLIGHT"):
        page = await store.find(transaction_query(outcome=outcome, limit=1000))
        pages[outcome] = [(s.transaction_id, s.business_key, s.attempts, s.error_class,
                           s.receipt_id, s.replays) for s in page.rows]
    health = await store.services(int((T0 + timedelta(hours=1)).timestamp() * 1000), 3600)
    return {"pages": pages, "health": health}


async def test_listings_traces_and_health_come_from_the_index(index_url: str,
                                                              codec: Codec) -> None:
    ts, ids = _story(codec)
    store = await _store(index_url)
    try:
        assert await store.schema_version() == MIGRATIONS[-1].version
        await _load(store, ts, codec)
        assert await store.count() == 17

        dead = await store.find(transaction_query(outcome="dead_lettered"))
        assert {s.transaction_id for s in dead.rows} == set(ids["dead"])
        assert all(s.error_class == "gateway.errors.TransientForwardError" and
                   s.attempts == 1 and s.service == SERVICE for s in dead.rows)
        delivered = await store.find(transaction_query(outcome="DELIVERED", limit=1000))
        assert {s.transaction_id for s in delivered.rows} == set(ids["delivered"]
                                                                 + ids["recovered"])
        pending = await store.find(transaction_query(outcome="REPLAY_PENDING"))
        assert [s.transaction_id for s in pending.rows] == ids["pending"]
        assert pending.rows[0].pending_replay_id == "rp-test-16"

        by_key = await store.find(transaction_query(business_key="H12-000003"))
        assert [s.transaction_id for s in by_key.rows] == [ids["delivered"][3]]
        assert by_key.rows[0].agency == "000.00.00.H12"
        assert by_key.rows[0].ingest_topic == TOPICS.source("one-stop")

        window = await store.find(transaction_query(
            since=(T0 + timedelta(minutes=2)).isoformat(),
            until=(T0 + timedelta(minutes=5)).isoformat()))
        assert [s.transaction_id for s in window.rows] == ids["delivered"][4:1:-1]

        # Keyset pages: newest first, no row twice, none left out.
        seen: list[str] = []
        cursor = None
        while True:
            page = await store.find(transaction_query(service=SERVICE, limit=4, cursor=cursor))
            seen.extend(s.transaction_id for s in page.rows)
            if page.next_after is None:
                break
            cursor = encode_cursor(page.next_after)
        assert len(seen) == 17 == len(set(seen))
        assert seen[0] == ids["pending"][0] and seen[-1] == ids["delivered"][0]

        rows = await store.trace_rows(ids["recovered"][0])
        assert rows is not None
        trace = trace_of(rows, TOPICS)
        assert trace.status.value == "DELIVERED"
        assert [e.kind.value for e in trace.events] == [
            "ingested", "attempt", "dead_lettered", "replay_submitted", "attempt", "delivered"]
        assert trace.replay_ids == ["rp-test-14"]
        assert await store.trace_rows("00000000-0000-4000-8000-000000000000") is None

        [health] = await store.services(int((T0 + timedelta(hours=1)).timestamp() * 1000),
                                        3600)
        assert (health.service, health.successes, health.failures) == (SERVICE, 12, 7)
        assert health.duration_min_ms == 10.0 and health.duration_max_ms == 19.0
        assert health.last_success_ms is not None and health.last_failure_ms is not None
    finally:
        await store.close()


async def test_replay_candidates_never_include_delivered_or_pending(index_url: str,
                                                                    codec: Codec) -> None:
    ts, ids = _story(codec)
    store = await _store(index_url)
    try:
        await _load(store, ts, codec)
        found = await store.replay_candidates(ReplayFilter.create())
        by_status: dict[str, set[str]] = {}
        for c in found:
            by_status.setdefault(c.status, set()).add(c.dead.transaction_id)
        assert by_status == {"DEAD_LETTERED": set(ids["dead"]),
                             "DELIVERED": set(ids["recovered"]),
                             "REPLAY_PENDING": set(ids["pending"])}
        narrowed = await store.replay_candidates(ReplayFilter.create(
            error_classes=["TransientForwardError"], transaction_ids=ids["dead"][:2]))
        assert {c.dead.transaction_id for c in narrowed} == set(ids["dead"][:2])
        assert await store.replay_candidates(ReplayFilter.create(services=["QG.X"])) == []
    finally:
        await store.close()


async def test_same_answers_whatever_the_order_and_however_often(index_url: str,
                                                                 codec: Codec) -> None:
    ts, _ = _story(codec)
    store = await _store(index_url)
    try:
        await _load(store, ts, codec, batch=5)
        first = await _answers(store)
        await _load(store, ts, codec, batch=3)  # every record again: nothing changes
        assert await _answers(store) == first
        generation = await store.drop()
        assert await store.count() == 0 and await store.positions() == {}
        await _load(store, ts, codec, batch=11, reverse=True)
        assert await _answers(store) == first
        # Positions only move forward, and cover every partition read.
        assert await store.positions() == {
            TopicPartition(t, p): n for (t, p), n in ts.offsets.items()}
        with pytest.raises(IndexRebuiltError):
            await store.apply(Projector(TOPICS, codec).project([]), {}, generation - 1)
    finally:
        await store.close()


async def test_postgres_and_sqlite_agree(postgres: object, tmp_path: object,
                                         codec: Codec) -> None:
    import asyncpg  # noqa: PLC0415

    from tests.support.postgres import PostgresServer  # noqa: PLC0415
    assert isinstance(postgres, PostgresServer)
    conn = await asyncpg.connect(postgres.url())
    await conn.execute('CREATE DATABASE "agree"')
    await conn.close()
    ts, _ = _story(codec)
    answers = []
    for url in (f"sqlite:///{tmp_path}/a.sqlite3", postgres.url("agree")):
        store = await _store(url)
        try:
            await _load(store, ts, codec)
            answers.append(await _answers(store))
        finally:
            await store.close()
    assert answers[0] == answers[1]


def test_query_refusals_name_the_field() -> None:
    with pytest.raises(ConfigError, match="outcome: 'LOST' is not one of"):
        transaction_query(outcome="LOST")
    with pytest.raises(ConfigError, match="cursor: not a cursor"):
        transaction_query(cursor="bm90IGEgY3Vyc29y")
    with pytest.raises(ConfigError, match="limit: '0' is not a whole number from 1 to 1000"):
        transaction_query(limit="0")


def test_summary_of_nothing_but_an_ingestion_is_in_flight(codec: Codec) -> None:
    ts = Topicset(TOPICS, codec)
    ts.transaction(1, outcome="DELIVERED", at=T0)
    changes = Projector(TOPICS, codec).project(ts.records[:1])
    from gateway.index.model import TraceRows  # noqa: PLC0415
    rows = TraceRows(changes.ingests[0].transaction_id, ingest=changes.ingests[0])
    summary = summarise(rows, TOPICS)
    assert (summary.status, summary.business_key, summary.attempts) == ("IN_FLIGHT",
                                                                       "H12-000001", 0)


async def test_the_indexers_fast_summary_agrees_with_the_trace(tmp_path: object,
                                                               codec: Codec) -> None:
    ts, ids = _story(codec)
    ts.transaction(40, outcome="DELIVERED", at=T0)
    store = await _store(f"sqlite:///{tmp_path}/fast.sqlite3")
    try:
        await _load(store, ts, codec)
        everyone = [i for group in ids.values() for i in group]
        for tx in everyone:
            rows = await store.trace_rows(tx)
            assert rows is not None
            assert summarise(rows, TOPICS) == summarise(rows, TOPICS, via_trace=True), tx
        # A dead-lettered chain without its dead-letter record (retention): ledger only.
        rows = await store.trace_rows(ids["dead"][0])
        assert rows is not None
        rows.dead.clear()
        assert summarise(rows, TOPICS) == summarise(rows, TOPICS, via_trace=True)
    finally:
        await store.close()


def test_index_url_refusal_names_the_field_and_never_the_password() -> None:
    from gateway.errors import IndexUrlError  # noqa: PLC0415
    from gateway.index import store_kind  # noqa: PLC0415
    with pytest.raises(IndexUrlError) as caught:
        store_kind("mysql://lgsp:s3cret@db:3306/index")
    assert "index.url" in str(caught.value) and "s3cret" not in str(caught.value)
    assert store_kind("sqlite:///relative.sqlite3") == "sqlite"
    assert store_kind("postgres://lgsp@db/index") == "postgresql"
