from __future__ import annotations

from collections.abc import AsyncIterator, Iterable

from aiokafka import AIOKafkaConsumer

from gateway.errors import KafkaError
from gateway.kafka._admin import KafkaAdmin
from gateway.kafka._convert import from_ak, to_ak, to_record
from gateway.kafka._errors import translated
from gateway.kafka._security import current_security, explained
from gateway.kafka._types import Record, TopicPartition


class TopicReader:
    """Reads whole topics from the beginning to the end offsets seen at open time.

    No consumer group: used for compacted state (connector configs and source positions)
    and for scans by replay and trace.
    """

    def __init__(self, bootstrap_servers: str, *, client_id: str = "lgsp-reader") -> None:
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap_servers,
            client_id=client_id,
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            **current_security().client_kwargs(),
        )
        self._bootstrap = bootstrap_servers
        self._admin = KafkaAdmin(bootstrap_servers, client_id=client_id)
        self._started = False

    async def start(self) -> None:
        """Connect to the cluster."""
        try:
            with translated("reader start"):
                try:
                    await self._consumer.start()
                except BaseException:
                    await self._consumer.stop()
                    raise
        except KafkaError as exc:
            raise await explained(exc, self._bootstrap) from exc
        try:
            await self._admin.start()
        except BaseException:
            await self._consumer.stop()
            raise
        self._started = True

    async def stop(self) -> None:
        """Close the connection."""
        if self._started:
            self._started = False
            await self._admin.stop()
            with translated("reader stop"):
                await self._consumer.stop()

    async def partitions(self, topic: str) -> list[TopicPartition]:
        """Every partition of a topic (empty if the topic does not exist)."""
        return await self._admin.partitions(topic)

    async def topics(self) -> set[str]:
        """Every topic name of the cluster."""
        return await self._admin.list_topics()

    async def end_offsets(self, topics: Iterable[str]) -> dict[TopicPartition, int]:
        """Per partition of `topics`, the offset the next record written will get."""
        tps: list[TopicPartition] = []
        for topic in topics:
            tps.extend(await self.partitions(topic))
        if not tps:
            return {}
        with translated("end offsets"):
            ends = await self._consumer.end_offsets(to_ak(tps))
        return {TopicPartition(tp.topic, tp.partition): int(off) for tp, off in ends.items()}

    async def beginning_offsets(self, topics: Iterable[str]) -> dict[TopicPartition, int]:
        """Per partition of `topics`, the offset of its first retained record."""
        tps: list[TopicPartition] = []
        for topic in topics:
            tps.extend(await self.partitions(topic))
        if not tps:
            return {}
        with translated("beginning offsets"):
            begins = await self._consumer.beginning_offsets(to_ak(tps))
        return {TopicPartition(tp.topic, tp.partition): int(off) for tp, off in begins.items()}

    async def read(
        self,
        topics: Iterable[str],
        *,
        start: dict[TopicPartition, int] | None = None,
        batch_timeout_s: float = 0.5,
    ) -> AsyncIterator[Record]:
        """Every record from `start` (default: the beginning) up to today's end offsets."""
        tps: list[TopicPartition] = []
        for topic in topics:
            tps.extend(await self.partitions(topic))
        if not tps:
            return
        ak_tps = to_ak(tps)
        with translated("reader assign"):
            self._consumer.assign(ak_tps)
            ends = await self._consumer.end_offsets(ak_tps)
            begins = await self._consumer.beginning_offsets(ak_tps)
        remaining: dict[TopicPartition, int] = {}
        for ak_tp, end in ends.items():
            tp = TopicPartition(ak_tp.topic, ak_tp.partition)
            first = (start or {}).get(tp, begins[ak_tp])
            if first < end:
                remaining[tp] = end
                self._consumer.seek(ak_tp, max(first, begins[ak_tp]))
        with translated("reader pause"):
            done = [tp for tp in tps if tp not in remaining]
            if done:
                self._consumer.pause(*to_ak(done))
        while remaining:
            with translated("reader fetch"):
                batches = await self._consumer.getmany(timeout_ms=int(batch_timeout_s * 1000))
            for ak_tp, msgs in batches.items():
                tp = from_ak([ak_tp])[0]
                end = remaining.get(tp)
                if end is None:
                    continue
                for msg in msgs:
                    if msg.offset >= end:
                        break
                    yield to_record(msg)
            # Compaction can leave offset gaps, so the position, not the last record, says
            # whether a partition has been read to its end.
            for tp, end in list(remaining.items()):
                with translated("reader position"):
                    position = await self._consumer.position(to_ak([tp])[0])
                if position >= end:
                    del remaining[tp]
                    self._consumer.pause(*to_ak([tp]))


async def read_topic(bootstrap_servers: str, topic: str) -> list[Record]:
    """Convenience: every record of one topic as of now."""
    reader = TopicReader(bootstrap_servers)
    await reader.start()
    try:
        return [rec async for rec in reader.read([topic])]
    finally:
        await reader.stop()
