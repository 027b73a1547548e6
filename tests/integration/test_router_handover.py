"""Hand-overs between routers: nothing the previous owner sent goes twice, and nothing
it cannot have sent is looked up first.

For the crash case the previous owner is played by a router that delivered part of a
backlog, after which the group's commit is set back to offset 0 declaring that it may
have sent that part (what a crash right after its first commit leaves behind). The next
router must ask the stub about exactly that part before sending it, including the first
records aiokafka fetches while the assignment callback is still deciding.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from devkit.localkafka import free_port
from devkit.stub import StubConfig, StubServer
from gateway.contracts import Codec, SchemaRegistry
from gateway.kafka import GroupConsumer, KafkaAdmin, Producer, TopicPartition, TopicSpec
from gateway.metrics import GATEWAY, STUB
from gateway.ndxp import NdxpClient
from gateway.router import Router
from gateway.router.leases import running
from gateway.settings import NdxpSettings, RouterSettings, Settings, router_group
from gateway.testing.fixtures import unique_prefix
from gateway.topics import Topics
from tests.conftest import BrokerHandle
from tests.support.pipeline import dossier_envelope, publish, stub_stats
from tests.support.waiting import wait_for

pytestmark = pytest.mark.integration

CODEC = Codec(SchemaRegistry.load(Settings().schemas_dir))
BACKLOG = 300
SENT_BEFORE = 100


class _Member:
    """A bare group member: it only takes the partitions so it may commit for them."""

    def __init__(self) -> None:
        self.assigned: set[TopicPartition] = set()

    async def partitions_revoked(self, partitions: set[TopicPartition]) -> None:
        self.assigned -= partitions

    async def partitions_assigned(self, partitions: set[TopicPartition]) -> None:
        self.assigned |= partitions


async def _run_router(settings: Settings, topics: Topics, producer: Producer,
                      done: Callable[[], Awaitable[bool]], what: str) -> None:
    """Run a router until `done()` holds, then stop it cleanly."""
    client = NdxpClient(settings.ndxp)
    await client.start()
    router = Router(settings, codec=CODEC, producer=producer, exchange=client, topics=topics)
    await router.start()
    try:
        await wait_for(done, bool, timeout_s=60, what=what)
    finally:
        await router.stop()
        await client.close()


async def _mark_unclean(settings: Settings, topics: Topics, tp: TopicPartition,
                        limit: int) -> None:
    """Leave the group's commit where a crashed first owner leaves it: offset 0, having
    declared it may send every record below `limit`."""
    member = _Member()
    consumer = GroupConsumer(settings.bootstrap_servers, group_id=router_group(settings),
                             pattern=topics.router_pattern, rebalance=member)
    await consumer.start()
    try:
        async def owned() -> bool:
            await consumer.poll(0.1)
            return tp in member.assigned

        await wait_for(owned, bool, timeout_s=30, interval_s=0.0, what="partition assigned")
        await consumer.commit({tp: 0}, running(limit))
    finally:
        await consumer.stop()


async def test_a_router_taking_over_after_a_crash_sends_nothing_twice(
    kafka: BrokerHandle, kafka_admin: KafkaAdmin, tmp_path: Path
) -> None:
    topics = Topics(prefix=unique_prefix())
    source = topics.source("one-stop")
    await kafka_admin.ensure_topics(
        [TopicSpec(name, 1) for name in (source, topics.replay, topics.dead_letter,
                                         topics.ledger)])
    stub_config = StubConfig(data_dir=tmp_path / "stub", port=free_port(), fsync=False)
    async with StubServer(stub_config) as stub:
        settings = Settings(
            bootstrap_servers=kafka.bootstrap, topic_prefix=topics.prefix,
            ndxp=NdxpSettings(url=stub.url),
            router=RouterSettings(max_in_flight=64, commit_interval_s=0.1),
        )
        producer = Producer(kafka.bootstrap)
        await producer.start()
        try:
            await publish(producer, CODEC, source,
                          [dossier_envelope(CODEC, n) for n in range(SENT_BEFORE)])
            tp = TopicPartition(source, 0)

            async def stub_has_all() -> bool:
                return int((await stub_stats(stub.url))["unique"]) >= SENT_BEFORE

            async def caught_up() -> bool:
                offsets = await kafka_admin.group_offsets(router_group(settings))
                return offsets.get(tp, 0) >= BACKLOG

            await _run_router(settings, topics, producer, stub_has_all, "first owner delivered")
            await _mark_unclean(settings, topics, tp, SENT_BEFORE)
            assert (await kafka_admin.group_offsets(router_group(settings)))[tp] == 0
            await publish(producer, CODEC, source,
                          [dossier_envelope(CODEC, n) for n in range(SENT_BEFORE, BACKLOG)])
            found, not_found = _lookups("found"), _lookups("not_found")
            recovered = _reconciled("found")
            # The next owner must look up what the first may have sent, and only that.
            await _run_router(settings, topics, producer, caught_up, "next owner caught up")
        finally:
            await producer.stop()
        stats = await stub_stats(stub.url)
    assert (stats["unique"], stats["duplicates"]) == (BACKLOG, 0), (
        f"the next owner sent again what the stub already had: {stats}")
    assert (_lookups("found") - found, _lookups("not_found") - not_found) == (SENT_BEFORE, 0)
    assert _reconciled("found") - recovered == SENT_BEFORE


def _reconciled(result: str) -> float:
    """What an operator sees: the gateway's lgsp_reconciliations_total."""
    return GATEWAY.get_sample_value(
        "lgsp_reconciliations_total", {"service": "QG.DVCQG.DONGBOHOSO", "result": result}
    ) or 0.0


def _lookups(result: str) -> float:
    return STUB.get_sample_value(
        "lgsp_stub_requests_total", {"service": "QG.DVCQG.DONGBOHOSO", "result": result}
    ) or 0.0


async def test_a_clean_handover_lets_the_next_owner_send_without_asking_first(
    kafka: BrokerHandle, kafka_admin: KafkaAdmin, tmp_path: Path
) -> None:
    # A router that finished its work hands its partitions over as `clean`: the next owner
    # must not look every record up before sending it (an extra request per transaction).
    topics = Topics(prefix=unique_prefix())
    source = topics.source("one-stop")
    await kafka_admin.ensure_topics(
        [TopicSpec(source, 2)] + [TopicSpec(name, 1) for name in (
            topics.replay, topics.dead_letter, topics.ledger)])
    stub_config = StubConfig(data_dir=tmp_path / "stub", port=free_port(), fsync=False)
    async with StubServer(stub_config) as stub, contextlib.AsyncExitStack() as stack:
        settings = Settings(
            bootstrap_servers=kafka.bootstrap, topic_prefix=topics.prefix,
            ndxp=NdxpSettings(url=stub.url),
            router=RouterSettings(commit_interval_s=0.1),
        )
        producer = Producer(kafka.bootstrap)
        await producer.start()
        stack.push_async_callback(producer.stop)

        async def router() -> Router:
            client = NdxpClient(settings.ndxp)
            await client.start()
            stack.push_async_callback(client.close)
            started = Router(settings, codec=CODEC, producer=producer, exchange=client,
                             topics=topics)
            await started.start()
            stack.push_async_callback(started.stop)
            return started

        async def committed() -> int:
            offsets = await kafka_admin.group_offsets(router_group(settings))
            return sum(off for tp, off in offsets.items() if tp.topic == source)

        async def unique() -> int:
            return int((await stub_stats(stub.url))["unique"])

        first = await router()
        await publish(producer, CODEC, source, [dossier_envelope(CODEC, n) for n in range(100)])
        await wait_for(committed, lambda n: n >= 100, timeout_s=60, what="first backlog done")
        lookups = _lookups("not_found")
        second = await router()

        async def shared() -> bool:
            return all(any(tp.topic == source for tp in r.owned_partitions())
                       for r in (first, second))

        await wait_for(shared, bool, timeout_s=60, what="both routers own a partition")
        await publish(producer, CODEC, source,
                      [dossier_envelope(CODEC, n) for n in range(100, 300)])
        await wait_for(unique, lambda n: n >= 300, timeout_s=60, what="second backlog done")
        stats = await stub_stats(stub.url)
    assert (stats["unique"], stats["duplicates"]) == (300, 0), stats
    assert _lookups("not_found") - lookups == 0, "records were looked up after a clean handover"
