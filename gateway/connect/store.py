"""Latest-value-per-key JSON state in a compacted Kafka topic (connector configs, positions)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from gateway.kafka import Producer, TopicReader


class CompactedStore:
    """A key -> JSON object map persisted in a compacted topic; a tombstone deletes.

    Writes go through the shared producer and return only once Kafka acknowledged them,
    so what `load` returns after a crash is exactly what was acknowledged.
    """

    def __init__(self, bootstrap_servers: str, producer: Producer, topic: str) -> None:
        self._bootstrap = bootstrap_servers
        self._producer = producer
        self.topic = topic

    async def load(self) -> dict[str, dict[str, Any]]:
        """Every live key with its latest value."""
        state: dict[str, dict[str, Any]] = {}
        reader = TopicReader(self._bootstrap, client_id=f"lgsp-store-{self.topic}")
        await reader.start()
        try:
            async for rec in reader.read([self.topic]):
                if rec.key is None:
                    continue
                key = rec.key.decode()
                if rec.value is None:
                    state.pop(key, None)
                else:
                    state[key] = orjson.loads(rec.value)
        finally:
            await reader.stop()
        return state

    async def put(self, key: str, value: Mapping[str, Any]) -> None:
        """Store a value; returns once Kafka acknowledged it."""
        await self._producer.send_and_wait(self.topic, orjson.dumps(dict(value)), key=key.encode())

    async def delete(self, key: str) -> None:
        """Write a tombstone for the key."""
        await self._producer.send_and_wait(self.topic, None, key=key.encode())
