"""Batched forwarding against the real broker and stub: batches, partial refusals, lookups."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from devkit.localkafka import free_port
from devkit.stub import StubConfig, StubServer
from gateway.contracts import Codec, SchemaRegistry
from gateway.headers import H_EXCEPTION
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
from tests.conftest import BrokerHandle
from tests.support.pipeline import dossier_envelope, publish, set_faults, stub_stats
from tests.support.waiting import wait_for

pytestmark = pytest.mark.integration

CODEC = Codec(SchemaRegistry.load(Settings().schemas_dir))
SERVICE = "QG.DVCQG.DONGBOHOSO"  # the catalogue marks it as taking batches


def _requests(kind: str) -> tuple[float, float]:
    """(batch requests, transactions in them) sent so far for SERVICE."""
    labels = {"service": SERVICE, "kind": kind}
    count = GATEWAY.get_sample_value("lgsp_forward_batch_size_count", labels) or 0.0
    total = GATEWAY.get_sample_value("lgsp_forward_batch_size_sum", labels) or 0.0
    return count, total


class Rig:
    """Stub, source topic and producer; `router()` runs a router with given settings."""

    def __init__(self, kafka: BrokerHandle, topics: Topics, stub: StubServer,
                 producer: Producer) -> None:
        self.kafka, self.topics, self.stub, self.producer = kafka, topics, stub, producer
        self.source = topics.source("one-stop")

    @contextlib.asynccontextmanager
    async def router(self, batch: BatchSettings, *,
                     request_timeout_s: float = 10.0) -> AsyncIterator[None]:
        settings = Settings(
            bootstrap_servers=self.kafka.bootstrap, topic_prefix=self.topics.prefix,
            ndxp=NdxpSettings(url=self.stub.url, request_timeout_s=request_timeout_s),
            router=RouterSettings(max_attempts=6, backoff_initial_s=0.05, backoff_max_s=0.2,
                                  commit_interval_s=0.1,
                                  batching=BatchingSettings(defaults=batch)),
        )
        async with NdxpClient(settings.ndxp) as client:
            router = Router(settings, codec=CODEC, producer=self.producer, exchange=client,
                            topics=self.topics)
            await router.start()
            try:
                yield
            finally:
                await router.stop()

    async def stats(self) -> dict[str, Any]:
        return await stub_stats(self.stub.url)

    async def dead_letters(self) -> list[Record]:
        return await read_topic(self.kafka.bootstrap, self.topics.dead_letter)

    async def publish(self, count: int, keys: int | None = None) -> None:
        envelopes = [dossier_envelope(CODEC, n, key=f"H12-{n % keys}" if keys else None)
                     for n in range(count)]
        await publish(self.producer, CODEC, self.source, envelopes)


@pytest.fixture
async def rig(kafka: BrokerHandle, kafka_admin: KafkaAdmin, topics: Topics,
              tmp_path: Path) -> AsyncIterator[Rig]:
    await kafka_admin.ensure_topics([TopicSpec(name) for name in (
        topics.source("one-stop"), topics.replay, topics.dead_letter, topics.ledger)])
    async with StubServer(StubConfig(data_dir=tmp_path / "stub", port=free_port(),
                                     fsync=False)) as stub:
        producer = Producer(kafka.bootstrap)
        await producer.start()
        try:
            yield Rig(kafka, topics, stub, producer)
        finally:
            await producer.stop()


async def test_a_backlog_goes_in_full_batches_each_transaction_once(rig: Rig) -> None:
    await rig.publish(2_000)
    before = _requests("submit")
    async with rig.router(BatchSettings(max_items=200, linger_ms=50)):
        stats = await wait_for(rig.stats, lambda s: s["unique"] >= 2_000, timeout_s=60,
                               what="2,000 at the stub")
    requests, items = (a - b for a, b in zip(_requests("submit"), before, strict=True))
    assert stats["unique"] == 2_000
    assert stats["duplicates"] == 0
    assert items == 2_000
    # A backlog fills its batches: ten full ones, give or take a few partial ones.
    assert 10 <= requests <= 20


async def test_one_key_at_a_time_still_holds_with_batches(rig: Rig) -> None:
    # Five keys: at most five transactions are ready at once, so batches stay small,
    # and each key's transactions go one batch after the other.
    await rig.publish(100, keys=5)
    before = _requests("submit")
    async with rig.router(BatchSettings(max_items=50, linger_ms=5)):
        stats = await wait_for(rig.stats, lambda s: s["unique"] >= 100, timeout_s=60,
                               what="100 at the stub")
    requests, items = (a - b for a, b in zip(_requests("submit"), before, strict=True))
    assert (stats["unique"], stats["duplicates"]) == (100, 0)
    assert items == 100
    assert requests >= 20  # never more than five (one per key) in one request


async def test_a_partly_refused_batch_dead_letters_only_the_refused_ones(rig: Rig) -> None:
    await set_faults(rig.stub.url, reject_rate=0.2)
    await rig.publish(500)
    async with rig.router(BatchSettings(max_items=100, linger_ms=20)):

        async def handled() -> tuple[dict[str, Any], list[Record]]:
            return await rig.stats(), await rig.dead_letters()

        stats, dead = await wait_for(handled, lambda sd: sd[0]["unique"] + len(sd[1]) >= 500,
                                     timeout_s=60, what="all 500 delivered or dead-lettered")
    assert stats["duplicates"] == 0
    assert 0 < len(dead) < 250  # about a fifth: the refused items, not their whole batches
    assert stats["unique"] + len(dead) == 500
    assert stats["rejected"] == len(dead)  # a refusal is final: never retried
    assert {r.header(H_EXCEPTION) for r in dead} == {b"gateway.errors.RejectedError"}


async def test_a_timed_out_batch_is_settled_by_one_lookup_not_one_per_transaction(
    rig: Rig,
) -> None:
    # Every request takes longer than the client waits: the first batch may have arrived,
    # so before anything is sent again the router asks, in bulk, what did.
    await set_faults(rig.stub.url, latency_ms=600)
    await rig.publish(300)
    lookups_before = _requests("lookup")
    async with rig.router(BatchSettings(max_items=300, linger_ms=100), request_timeout_s=0.3):
        async def lookups_sent() -> float:
            return _requests("lookup")[0]

        await wait_for(lookups_sent, lambda n: n > lookups_before[0], timeout_s=30,
                       what="a lookup after the timed-out batch")
        await set_faults(rig.stub.url, latency_ms=0)
        stats = await wait_for(rig.stats, lambda s: s["unique"] >= 300, timeout_s=60,
                               what="300 at the stub")
    lookups, looked_up = (a - b for a, b in zip(_requests("lookup"), lookups_before,
                                                 strict=True))
    assert (stats["unique"], stats["duplicates"]) == (300, 0)
    assert looked_up >= 300  # every transaction of the lost batch was asked about
    assert lookups <= looked_up / 50  # in a few requests, not one each
