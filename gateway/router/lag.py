"""Consumer lag per owned partition, as the operators' `lgsp_consumer_lag` gauge."""

from __future__ import annotations

__all__ = ["report_lag"]

import asyncio

from gateway.errors import KafkaError
from gateway.kafka import GroupConsumer
from gateway.metrics import CONSUMER_LAG
from gateway.router.offsets import OffsetTracker


async def report_lag(consumer: GroupConsumer, tracker: OffsetTracker, interval_s: float) -> None:
    """Every interval: log end minus the first record not yet final (or the position)."""
    while True:
        for tp in consumer.assignment():
            high = consumer.highwater(tp)
            if high is None:
                continue
            done = tracker.commit_point((tp.topic, tp.partition))
            if done is None:
                try:
                    done = await consumer.position(tp)
                except KafkaError:
                    continue
            CONSUMER_LAG.labels(tp.topic, str(tp.partition)).set(max(0, high - done))
        await asyncio.sleep(interval_s)
