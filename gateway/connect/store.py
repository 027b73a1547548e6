"""Latest-value-per-key JSON state in a compacted Kafka topic (connector configs, positions)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from gateway.kafka import Producer, Record, TopicReader
from gateway.logs import get_logger

_log = get_logger(__name__)


@dataclass(slots=True)
class StoreSnapshot:
    """What a compacted store holds: live values, and keys whose latest record is unreadable
    (key -> one-line reason naming topic and offset)."""

    values: dict[str, dict[str, Any]] = field(default_factory=dict)
    unreadable: dict[str, str] = field(default_factory=dict)


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
        """Every live key with its latest value (unreadable ones skipped, with a warning)."""
        return (await self.snapshot()).values

    async def snapshot(self) -> StoreSnapshot:
        """Every live key with its latest value, and the keys whose latest is unreadable.

        A record anyone could have planted (the topic is writable by every client of the
        cluster) must not stop the gateway from starting: it is skipped with a warning
        naming topic and offset. A later good value of the same key replaces it.
        """
        snap = StoreSnapshot()
        reader = TopicReader(self._bootstrap, client_id=f"lgsp-store-{self.topic}")
        await reader.start()
        try:
            async for rec in reader.read([self.topic]):
                self._apply(snap, rec)
        finally:
            await reader.stop()
        return snap

    def _apply(self, snap: StoreSnapshot, rec: Record) -> None:
        where = f"topic {rec.topic} partition {rec.partition} offset {rec.offset}"
        if rec.key is None:
            _log.warning("unreadable store record skipped", topic=rec.topic,
                         partition=rec.partition, offset=rec.offset, reason="no key")
            return
        try:
            key = rec.key.decode()
        except UnicodeDecodeError:
            _log.warning("unreadable store record skipped", topic=rec.topic,
                         partition=rec.partition, offset=rec.offset, reason="key is not UTF-8")
            return
        snap.unreadable.pop(key, None)
        if rec.value is None:
            snap.values.pop(key, None)
            return
        try:
            value = orjson.loads(rec.value)
        except orjson.JSONDecodeError as exc:
            reason = f"not JSON ({exc.msg})"
        else:
            if isinstance(value, dict):
                snap.values[key] = value
                return
            reason = f"a JSON {type(value).__name__}, not an object"
        snap.values.pop(key, None)
        snap.unreadable[key] = f"stored record at {where} is unreadable: {reason}"
        _log.warning("unreadable store record skipped", topic=rec.topic,
                     partition=rec.partition, offset=rec.offset, key=key[:200], reason=reason)

    async def put(self, key: str, value: Mapping[str, Any]) -> None:
        """Store a value; returns once Kafka acknowledged it."""
        await self._producer.send_and_wait(self.topic, orjson.dumps(dict(value)), key=key.encode())

    async def delete(self, key: str) -> None:
        """Write a tombstone for the key."""
        await self._producer.send_and_wait(self.topic, None, key=key.encode())
