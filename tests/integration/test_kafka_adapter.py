"""The Kafka adapter against the real broker: produce, consume, commit, read, errors."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable

import pytest

from devkit.localkafka import free_port
from gateway.errors import KafkaUnavailableError
from gateway.kafka import GroupConsumer, KafkaAdmin, Producer, TopicPartition, TopicSpec, read_topic
from tests.conftest import BrokerHandle

pytestmark = pytest.mark.integration


async def test_produce_then_consume_in_a_group_and_commit(
    kafka: BrokerHandle, new_topic: Callable[..., Awaitable[str]]
) -> None:
    topic = await new_topic(3)
    producer = Producer(kafka.bootstrap)
    await producer.start()
    try:
        acks = [
            await producer.send(topic, f"v{i}".encode(), key=f"k{i % 5}".encode(),
                                headers=[("h", b"1")])
            for i in range(100)
        ]
        reports = await asyncio.gather(*acks)
    finally:
        await producer.stop()
    assert {r.topic for r in reports} == {topic}

    group = f"g{uuid.uuid4().hex[:8]}"
    consumer = GroupConsumer(kafka.bootstrap, group_id=group, topics=[topic])
    await consumer.start()
    seen: list[bytes] = []
    try:
        while len(seen) < 100:
            for rec in await consumer.poll(1.0):
                assert rec.header("h") == b"1"
                assert rec.value is not None
                seen.append(rec.value)
        ends = await consumer.end_offsets(consumer.assignment())
        await consumer.commit(ends)
    finally:
        await consumer.stop()
    assert sorted(seen) == sorted(f"v{i}".encode() for i in range(100))

    admin = KafkaAdmin(kafka.bootstrap)
    await admin.start()
    try:
        committed = await admin.group_offsets(group)
    finally:
        await admin.stop()
    assert sum(committed.values()) == 100
    assert set(committed) == {TopicPartition(topic, p) for p in range(3)}


async def test_reader_reads_a_compacted_topic_to_its_end(
    kafka: BrokerHandle, kafka_admin: KafkaAdmin
) -> None:
    topic = f"t{uuid.uuid4().hex[:12]}"
    await kafka_admin.ensure_topics([TopicSpec.compacted(topic)])
    producer = Producer(kafka.bootstrap)
    await producer.start()
    try:
        for i in range(10):
            await producer.send_and_wait(topic, f"{i}".encode(), key=b"same-key")
    finally:
        await producer.stop()
    records = await read_topic(kafka.bootstrap, topic)
    assert records[-1].value == b"9"
    assert all(r.key == b"same-key" for r in records)


async def test_missing_topic_reads_as_empty(kafka: BrokerHandle) -> None:
    assert await read_topic(kafka.bootstrap, f"absent{uuid.uuid4().hex[:8]}") == []


async def test_unreachable_broker_is_a_retriable_gateway_error() -> None:
    producer = Producer(f"127.0.0.1:{free_port()}", request_timeout_ms=2000)
    with pytest.raises(KafkaUnavailableError) as caught:
        await producer.start()
    assert caught.value.retriable
    assert "Kafka producer start failed" in str(caught.value)
