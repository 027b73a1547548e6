from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from aiokafka.structs import TopicPartition as AkTopicPartition

from gateway.kafka._types import Record, TopicPartition


def to_ak(tps: Iterable[TopicPartition]) -> list[AkTopicPartition]:
    return [AkTopicPartition(tp.topic, tp.partition) for tp in tps]


def from_ak(tps: Iterable[AkTopicPartition]) -> list[TopicPartition]:
    return [TopicPartition(tp.topic, tp.partition) for tp in tps]


def to_record(msg: Any) -> Record:
    return Record(
        topic=msg.topic,
        partition=msg.partition,
        offset=msg.offset,
        key=msg.key,
        value=msg.value,
        headers=tuple(msg.headers),
        timestamp_ms=msg.timestamp,
    )
