from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Protocol

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener
from aiokafka.structs import OffsetAndMetadata
from aiokafka.structs import TopicPartition as AkTopicPartition

from gateway.errors import KafkaError
from gateway.kafka._convert import from_ak, to_ak, to_record
from gateway.kafka._errors import translated
from gateway.kafka._security import current_security, explained
from gateway.kafka._types import Record, TopicPartition


class RebalanceHandler(Protocol):
    """Told when the group takes partitions away or hands new ones over."""

    async def partitions_revoked(self, partitions: set[TopicPartition]) -> None:
        """Called before partitions leave; finish or abandon their work and commit."""

    async def partitions_assigned(self, partitions: set[TopicPartition]) -> None:
        """Called once new partitions are owned."""


class _Listener(ConsumerRebalanceListener):
    def __init__(self, handler: RebalanceHandler) -> None:
        self._handler = handler

    async def on_partitions_revoked(self, revoked: Iterable[AkTopicPartition]) -> None:
        await self._handler.partitions_revoked(set(from_ak(revoked)))

    async def on_partitions_assigned(self, assigned: Iterable[AkTopicPartition]) -> None:
        await self._handler.partitions_assigned(set(from_ak(assigned)))


class GroupConsumer:
    """A consumer-group member with manual commits: offsets move only when told to."""

    def __init__(
        self,
        bootstrap_servers: str,
        *,
        group_id: str,
        topics: Sequence[str] = (),
        pattern: str | None = None,
        rebalance: RebalanceHandler | None = None,
        client_id: str = "lgsp",
        max_poll_records: int = 500,
        session_timeout_ms: int = 10_000,
        heartbeat_interval_ms: int = 3_000,
    ) -> None:
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap_servers,
            group_id=group_id,
            client_id=client_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=max_poll_records,
            session_timeout_ms=session_timeout_ms,
            heartbeat_interval_ms=heartbeat_interval_ms,
            # New connector topics must be picked up quickly by a pattern subscription.
            metadata_max_age_ms=5_000,
            **current_security().client_kwargs(),
        )
        self._bootstrap = bootstrap_servers
        self._topics = tuple(topics)
        self._pattern = pattern
        self._rebalance = rebalance
        self._started = False

    async def start(self) -> None:
        """Connect and subscribe; partitions arrive through the rebalance handler."""
        listener = _Listener(self._rebalance) if self._rebalance is not None else None
        try:
            with translated("consumer start"):
                try:
                    await self._consumer.start()
                except BaseException:
                    await self._consumer.stop()
                    raise
        except KafkaError as exc:
            raise await explained(exc, self._bootstrap) from exc
        with translated("consumer subscribe"):
            if self._pattern is not None:
                self._consumer.subscribe(pattern=self._pattern, listener=listener)
            else:
                self._consumer.subscribe(topics=list(self._topics), listener=listener)
        self._started = True

    async def stop(self) -> None:
        """Leave the group and close; uncommitted work is redelivered to the next owner."""
        if self._started:
            self._started = False
            with translated("consumer stop"):
                await self._consumer.stop()

    async def poll(self, timeout_s: float, max_records: int | None = None) -> list[Record]:
        """Records fetched within the timeout, across all assigned, unpaused partitions."""
        with translated("consume"):
            batches = await self._consumer.getmany(
                timeout_ms=int(timeout_s * 1000), max_records=max_records
            )
        return [to_record(msg) for msgs in batches.values() for msg in msgs]

    async def commit(self, offsets: Mapping[TopicPartition, int],
                     metadata: str | Mapping[TopicPartition, str] = "") -> None:
        """Commit, per partition, the offset of the next record to read.

        `metadata` (one string, or one per partition) is stored with each offset; the
        router uses it to tell the next owner what it may have sent.
        """
        if not offsets:
            return
        meta = metadata if not isinstance(metadata, str) else dict.fromkeys(offsets, metadata)
        with translated("offset commit"):
            await self._consumer.commit(
                {AkTopicPartition(tp.topic, tp.partition): OffsetAndMetadata(off, meta[tp])
                 for tp, off in offsets.items()}
            )

    def pause(self, partitions: Iterable[TopicPartition]) -> None:
        """Stop fetching from these partitions (backpressure)."""
        self._consumer.pause(*to_ak(partitions))

    def resume(self, partitions: Iterable[TopicPartition]) -> None:
        """Fetch again from paused partitions."""
        self._consumer.resume(*to_ak(partitions))

    def assignment(self) -> set[TopicPartition]:
        """The partitions this member owns now."""
        return set(from_ak(self._consumer.assignment()))

    async def end_offsets(self, partitions: Iterable[TopicPartition]) -> dict[TopicPartition, int]:
        """The log-end offset of each partition."""
        with translated("end offsets"):
            ends = await self._consumer.end_offsets(to_ak(partitions))
        return {TopicPartition(tp.topic, tp.partition): off for tp, off in ends.items()}

    def highwater(self, partition: TopicPartition) -> int | None:
        """The partition's high watermark as of the last fetch, if any fetch happened."""
        hw = self._consumer.highwater(AkTopicPartition(partition.topic, partition.partition))
        return int(hw) if hw is not None else None

    async def position(self, partition: TopicPartition) -> int:
        """The offset of the next record this member will fetch from a partition."""
        with translated("consumer position"):
            pos = await self._consumer.position(
                AkTopicPartition(partition.topic, partition.partition)
            )
        return int(pos)

    def seek(self, partition: TopicPartition, offset: int) -> None:
        """Fetch this partition from `offset` next (for positions kept outside Kafka)."""
        with translated("consumer seek"):
            self._consumer.seek(AkTopicPartition(partition.topic, partition.partition), offset)

    async def seek_to_beginning(self, partitions: Iterable[TopicPartition]) -> None:
        """Fetch these partitions from their first retained record next."""
        with translated("consumer seek"):
            await self._consumer.seek_to_beginning(*to_ak(partitions))
