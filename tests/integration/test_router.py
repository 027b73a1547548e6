"""The router against the real broker and a real NDXP stub: forward, count, dead-letter."""

from __future__ import annotations

import collections
import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from devkit.localkafka import free_port
from devkit.stub import StubConfig, StubServer
from gateway.contracts import Codec, SchemaRegistry
from gateway.headers import (
    H_ATTEMPTS,
    H_EXCEPTION,
    H_FIRST_FAILURE,
    H_LAST_FAILURE,
    H_OFFSET,
    H_PARTITION,
    H_SERVICE,
    H_STAGE,
    H_TOPIC,
)
from gateway.kafka import KafkaAdmin, Producer, Record, TopicSpec, read_topic
from gateway.metrics import GATEWAY
from gateway.ndxp import NdxpClient
from gateway.router import Router
from gateway.settings import (
    BatchingSettings,
    BatchSettings,
    NdxpSettings,
    RouterSettings,
    Settings,
)
from gateway.topics import Topics
from gateway.trace import EventKind, Tracer, TraceStatus
from tests.conftest import BrokerHandle
from tests.support.pipeline import (
    document_envelope,
    dossier_envelope,
    publish,
    set_faults,
    stub_stats,
)
from tests.support.waiting import wait_for

pytestmark = pytest.mark.integration

CODEC = Codec(SchemaRegistry.load(Settings().schemas_dir))


class Pipeline:
    """A source topic, the stub, and a running router, all private to one test."""

    def __init__(self, settings: Settings, topics: Topics, stub: StubServer,
                 producer: Producer) -> None:
        self.settings = settings
        self.topics = topics
        self.stub = stub
        self.producer = producer
        self.source = topics.source("one-stop")

    async def stats(self) -> dict[str, Any]:
        return await stub_stats(self.stub.url)

    async def dead_letters(self) -> list[Record]:
        return await read_topic(self.settings.bootstrap_servers, self.topics.dead_letter)

    async def held(self) -> list[Record]:
        return await read_topic(self.settings.bootstrap_servers,
                                self.topics.hold("QG.DVCQG.DONGBOHOSO"))

    async def ledger(self) -> list[dict[str, Any]]:
        records = await read_topic(self.settings.bootstrap_servers, self.topics.ledger)
        return [CODEC.decode(r.value) for r in records if r.value is not None]


@pytest.fixture
async def pipeline(kafka: BrokerHandle, kafka_admin: KafkaAdmin, topics: Topics,
                   tmp_path: Path) -> AsyncIterator[Pipeline]:
    await kafka_admin.ensure_topics(
        [TopicSpec(name) for name in (topics.source("one-stop"), topics.source("ioffice"),
                                      topics.replay, topics.dead_letter, topics.ledger)]
    )
    async with StubServer(StubConfig(data_dir=tmp_path / "stub", port=free_port(),
                                     fsync=False)) as stub:
        settings = Settings(
            bootstrap_servers=kafka.bootstrap, topic_prefix=topics.prefix,
            ndxp=NdxpSettings(url=stub.url),
            # Dossier events go in batches (their service takes them), documents one by
            # one; small batches, so a test's few hundred transactions make many requests.
            router=RouterSettings(max_attempts=4,
                                  backoff_initial_s=0.01, backoff_max_s=0.05,
                                  breaker_reset_s=0.2, commit_interval_s=0.1,
                                  batching=BatchingSettings(
                                      defaults=BatchSettings(max_items=5, linger_ms=5))),
        )
        producer = Producer(kafka.bootstrap)
        await producer.start()
        client = NdxpClient(settings.ndxp)
        await client.start()
        router = Router(settings, codec=CODEC, producer=producer, exchange=client, topics=topics)
        await router.start()
        try:
            yield Pipeline(settings, topics, stub, producer)
        finally:
            await router.stop()
            await client.close()
            await producer.stop()


def _delivered(connector: str) -> float:
    value = GATEWAY.get_sample_value(
        "lgsp_transactions_total",
        {"connector": connector, "service": "QG.DVCQG.DONGBOHOSO", "outcome": "delivered"},
    )
    return value or 0.0


async def test_every_transaction_reaches_the_stub_once_and_is_counted(pipeline: Pipeline) -> None:
    before = _delivered("one-stop")
    envelopes = [dossier_envelope(CODEC, n, key=f"H12-{n % 40}") for n in range(400)]
    await publish(pipeline.producer, CODEC, pipeline.source, envelopes)
    stats = await wait_for(pipeline.stats, lambda s: s["unique"] >= 400, what="400 at the stub")
    assert stats["unique"] == 400
    assert stats["duplicates"] == 0
    assert stats["by_service"]["QG.DVCQG.DONGBOHOSO"]["unique"] == 400
    async def delivered_since() -> float:
        return _delivered("one-stop") - before

    await wait_for(delivered_since, lambda d: d == 400, what="delivered counter")
    ledger = await wait_for(pipeline.ledger, lambda rows: len(rows) >= 400, what="ledger")
    assert {r["outcome"] for r in ledger} == {"DELIVERED"}
    assert {r["transaction_id"] for r in ledger} == {e.transaction_id for e in envelopes}
    # One business key at a time, in offset order.
    by_key: dict[str, list[tuple[int, Any]]] = collections.defaultdict(list)
    key_of = {e.transaction_id: e.business_key for e in envelopes}
    for row in ledger:
        by_key[key_of[row["transaction_id"]]].append((row["source_offset"], row["completed_at"]))
    for rows in by_key.values():
        rows.sort()
        completed = [c for _, c in rows]
        assert completed == sorted(completed)


async def test_a_flaky_endpoint_still_gets_each_transaction_once(pipeline: Pipeline) -> None:
    await set_faults(pipeline.stub.url, error_rate=0.3)
    envelopes = [dossier_envelope(CODEC, n) for n in range(200)]
    await publish(pipeline.producer, CODEC, pipeline.source, envelopes)

    async def handled() -> tuple[dict[str, Any], int]:
        return await pipeline.stats(), len(await pipeline.dead_letters())

    stats, dead = await wait_for(handled, lambda sd: sd[0]["unique"] + sd[1] >= 200,
                                 timeout_s=60, what="all 200 handled")
    assert stats["duplicates"] == 0
    assert stats["unique"] + dead == 200
    assert stats["rejected"] > 0  # the faults really happened


async def test_endpoint_down_holds_transactions_and_they_flow_again_by_themselves(
    pipeline: Pipeline,
) -> None:
    await set_faults(pipeline.stub.url, down=True)
    envelopes = [dossier_envelope(CODEC, n, key=f"H12-{n % 5}") for n in range(30)]
    await publish(pipeline.producer, CODEC, pipeline.source, envelopes)
    held = await wait_for(pipeline.held, lambda h: len(h) >= 30, timeout_s=60,
                          what="30 transactions held")
    assert {rec.value for rec in held} == {e.encode(CODEC) for e in envelopes}  # untouched
    assert await pipeline.dead_letters() == []
    assert (await pipeline.stats())["unique"] == 0
    tracer = Tracer(pipeline.settings.bootstrap_servers, pipeline.topics, CODEC)
    trace = await tracer.trace(envelopes[0].transaction_id)
    assert trace.status is TraceStatus.HELD
    held_event = next(e for e in trace.events if e.kind is EventKind.HELD)
    assert "QG.DVCQG.DONGBOHOSO is unavailable" in held_event.summary
    await set_faults(pipeline.stub.url, down=False)
    stats = await wait_for(pipeline.stats, lambda s: s["unique"] >= 30, timeout_s=60,
                           what="30 delivered after the outage, without a replay")
    assert (stats["unique"], stats["duplicates"]) == (30, 0)
    assert await pipeline.dead_letters() == []
    ledger = await wait_for(pipeline.ledger, lambda rows: len(rows) >= 30, what="ledger")
    assert {r["outcome"] for r in ledger} == {"DELIVERED"}
    trace = await tracer.trace(envelopes[0].transaction_id)
    assert trace.status is TraceStatus.DELIVERED
    assert [e.kind for e in trace.events][-1] is EventKind.DELIVERED
    # Still in order per business key: each key's transactions delivered by offset.
    order = {e.transaction_id: n for n, e in enumerate(envelopes)}
    by_key: dict[str, list[tuple[Any, int]]] = collections.defaultdict(list)
    for row in ledger:
        n = order[row["transaction_id"]]
        by_key[envelopes[n].business_key].append((row["completed_at"], n))
    for rows in by_key.values():
        assert [n for _, n in sorted(rows)] == sorted(n for _, n in rows)


async def test_one_service_down_delays_none_of_the_others_in_the_same_partition(
    pipeline: Pipeline, kafka_admin: KafkaAdmin,
) -> None:
    mixed = pipeline.topics.source("mixed")
    await kafka_admin.ensure_topics([TopicSpec(mixed, 1)])  # one partition: shared for sure
    await set_faults(pipeline.stub.url, down_services=["QG.DVCQG.DONGBOHOSO"])
    dossiers = [dossier_envelope(CODEC, n) for n in range(40)]
    documents = [document_envelope(CODEC, n) for n in range(40)]
    interleaved = [e for pair in zip(dossiers, documents, strict=True) for e in pair]
    await publish(pipeline.producer, CODEC, mixed, interleaved)
    stats = await wait_for(
        pipeline.stats, lambda s: s["by_service"].get("QG.VBDT.GUINHAN", {}).get("unique") == 40,
        timeout_s=60, what="the other service's 40 delivered during the outage")
    assert "QG.DVCQG.DONGBOHOSO" not in stats["by_service"] or \
        stats["by_service"]["QG.DVCQG.DONGBOHOSO"]["unique"] == 0
    await set_faults(pipeline.stub.url, down_services=[])
    stats = await wait_for(pipeline.stats, lambda s: s["unique"] >= 80, timeout_s=60,
                           what="the held 40 after recovery")
    assert (stats["unique"], stats["duplicates"]) == (80, 0)
    assert await pipeline.dead_letters() == []


async def test_a_refused_transaction_dead_letters_with_kafka_connect_headers(
    pipeline: Pipeline,
) -> None:
    # A service the national side does not know: refused (404), not worth a retry.
    envelopes = [dataclasses.replace(dossier_envelope(CODEC, n), target_service="QG.KHONG.CO")
                 for n in range(5)]
    await publish(pipeline.producer, CODEC, pipeline.source, envelopes)
    dead = await wait_for(pipeline.dead_letters, lambda d: len(d) >= 5, timeout_s=60,
                          what="5 dead letters")
    assert len(dead) == 5
    for rec in dead:
        headers = dict(rec.headers)
        assert headers[H_TOPIC] == pipeline.source.encode()
        assert int(headers[H_PARTITION]) >= 0
        assert int(headers[H_OFFSET]) >= 0
        assert headers[H_STAGE] == b"TASK_PUT"
        assert headers[H_EXCEPTION] == b"gateway.errors.RejectedError"
        assert headers[H_ATTEMPTS] == b"1"
        assert headers[H_SERVICE] == b"QG.KHONG.CO"
        assert headers[H_FIRST_FAILURE] <= headers[H_LAST_FAILURE]
    assert {rec.value for rec in dead} == {e.encode(CODEC) for e in envelopes}


async def test_no_route_and_undecodable_records_go_straight_to_dead_letters(
    pipeline: Pipeline,
) -> None:
    no_route = dossier_envelope(CODEC, 1, message_type="onestop.unknown_type")
    await publish(pipeline.producer, CODEC, pipeline.source, [no_route])
    await pipeline.producer.send_and_wait(pipeline.source, b"definitely not avro", key=b"x")
    good = document_envelope(CODEC, 7)
    await publish(pipeline.producer, CODEC, pipeline.topics.source("ioffice"), [good])
    dead = await wait_for(pipeline.dead_letters, lambda d: len(d) >= 2, what="2 dead letters")
    reasons = {dict(r.headers)[H_EXCEPTION]: dict(r.headers) for r in dead}
    assert reasons[b"gateway.errors.NoRouteError"][H_STAGE] == b"TRANSFORMATION"
    assert reasons[b"gateway.errors.NoRouteError"][H_ATTEMPTS] == b"0"
    assert reasons[b"gateway.errors.MalformedRecordError"][H_STAGE] == b"VALUE_CONVERTER"
    stats = await wait_for(pipeline.stats, lambda s: s["unique"] >= 1, what="good one delivered")
    assert stats["by_service"]["QG.VBDT.GUINHAN"]["unique"] == 1
