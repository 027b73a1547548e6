from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Sequence

from aiokafka import AIOKafkaProducer

from gateway.kafka._errors import translate, translated
from gateway.kafka._types import DeliveryReport, Header


class Producer:
    """An idempotent producer (acks=all): a record is only reported once replicas have it.

    `send` enqueues and returns an awaitable that resolves on acknowledgement, so callers
    can pipeline many records and still act only on acknowledged ones.
    """

    def __init__(
        self,
        bootstrap_servers: str,
        *,
        client_id: str = "lgsp",
        linger_ms: int = 5,
        max_batch_size: int = 256 * 1024,
        request_timeout_ms: int = 30_000,
    ) -> None:
        self._producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap_servers,
            client_id=client_id,
            acks="all",
            enable_idempotence=True,
            linger_ms=linger_ms,
            max_batch_size=max_batch_size,
            request_timeout_ms=request_timeout_ms,
        )
        self._started = False

    async def start(self) -> None:
        """Connect to the cluster; raises KafkaUnavailableError if it cannot be reached."""
        with translated("producer start"):
            try:
                await self._producer.start()
            except BaseException:
                # aiokafka leaves its connections open after a failed start.
                await self._producer.stop()
                raise
        self._started = True

    async def stop(self) -> None:
        """Flush what is buffered and close."""
        if self._started:
            self._started = False
            with translated("producer stop"):
                await self._producer.stop()

    async def send(
        self,
        topic: str,
        value: bytes | None,
        *,
        key: bytes | None = None,
        headers: Sequence[Header] = (),
        partition: int | None = None,
    ) -> Awaitable[DeliveryReport]:
        """Enqueue a record; await the result to wait for Kafka's acknowledgement."""
        with translated(f"produce to {topic}"):
            future = await self._producer.send(
                topic, value=value, key=key, headers=list(headers), partition=partition
            )
        return _acknowledged(future, topic)

    async def send_and_wait(
        self,
        topic: str,
        value: bytes | None,
        *,
        key: bytes | None = None,
        headers: Sequence[Header] = (),
        partition: int | None = None,
    ) -> DeliveryReport:
        """Send one record and wait until Kafka acknowledged it."""
        ack = await self.send(topic, value, key=key, headers=headers, partition=partition)
        return await ack

    async def flush(self) -> None:
        """Wait until every enqueued record has been acknowledged or failed."""
        with translated("producer flush"):
            await self._producer.flush()

    async def partitions_for(self, topic: str) -> set[int]:
        """The partition numbers of a topic."""
        with translated(f"metadata for {topic}"):
            parts = await self._producer.partitions_for(topic)
        return set(parts or ())


async def _acknowledged(future: asyncio.Future[object], topic: str) -> DeliveryReport:
    try:
        meta = await future
    except Exception as exc:
        raise translate(exc, f"produce to {topic}") from exc
    return DeliveryReport(meta.topic, meta.partition, meta.offset)  # type: ignore[attr-defined]
