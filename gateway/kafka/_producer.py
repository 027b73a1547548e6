from __future__ import annotations

import asyncio
import random
import struct
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.record.default_records import DefaultRecordBatchBuilder

from gateway.errors import KafkaError
from gateway.kafka._errors import translate, translated
from gateway.kafka._security import current_security, explained
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
        max_request_size: int = 1024 * 1024,
    ) -> None:
        self._max_request_size = max_request_size
        self._producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap_servers,
            client_id=client_id,
            acks="all",
            enable_idempotence=True,
            linger_ms=linger_ms,
            max_batch_size=max_batch_size,
            request_timeout_ms=request_timeout_ms,
            max_request_size=max_request_size,
            partitioner=partition_of,
            **current_security().client_kwargs(),
        )
        self._bootstrap = bootstrap_servers
        self._started = False

    @property
    def max_record_bytes(self) -> int:
        """The largest record (key, value and headers, encoded) this producer sends."""
        return self._max_request_size

    @staticmethod
    def record_size(value: bytes | None, key: bytes | None, headers: Sequence[Header]) -> int:
        """The size Kafka's client reckons for one record, to compare with the maximum."""
        return int(DefaultRecordBatchBuilder.estimate_size_in_bytes(key, value, list(headers)))

    async def start(self) -> None:
        """Connect to the cluster; raises KafkaUnavailableError if it cannot be reached."""
        try:
            with translated("producer start"):
                try:
                    await self._producer.start()
                except BaseException:
                    # aiokafka leaves its connections open after a failed start.
                    await self._producer.stop()
                    raise
        except KafkaError as exc:
            raise await explained(exc, self._bootstrap) from exc
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


def _acknowledged(future: asyncio.Future[Any], topic: str) -> asyncio.Future[DeliveryReport]:
    """A future of the DeliveryReport (or translated error), chained to aiokafka's.

    A future rather than a coroutine: callers gather many acknowledgements, and gather
    wraps every coroutine in a Task while it waits on a future as it is.
    """
    report: asyncio.Future[DeliveryReport] = asyncio.get_running_loop().create_future()

    def settle(done: asyncio.Future[Any]) -> None:
        if report.done():  # the caller cancelled its wait
            if not done.cancelled():
                done.exception()  # retrieved: asyncio must not log it as forgotten
            return
        if done.cancelled():
            report.cancel()
        elif (exc := done.exception()) is not None:
            report.set_exception(translate(exc, f"produce to {topic}"))
        else:
            meta = done.result()
            report.set_result(DeliveryReport(meta.topic, meta.partition, meta.offset))

    future.add_done_callback(settle)
    return report


# Kafka's default partitioner (the Java client's, and aiokafka's DefaultPartitioner): murmur2
# of the key, so a key lands where any Kafka client would put it. aiokafka's murmur2 walks
# the key byte by byte; this one takes four bytes at a time and gives identical hashes
# (tests/unit pins that) in half the time, which shows on every keyed record we produce.
_M = 0x5BD1E995
_MASK = 0xFFFFFFFF
_WORDS: dict[int, Callable[[bytes], tuple[int, ...]]] = {}


def murmur2(data: bytes) -> int:
    """Kafka's murmur2 hash of `data` (the unsigned 32-bit value, as aiokafka returns it)."""
    length = len(data)
    h = 0x9747B28C ^ length
    words = length >> 2
    if words:
        unpack = _WORDS.get(words)
        if unpack is None:
            unpack = _WORDS[words] = struct.Struct(f"<{words}I").unpack_from
        for word in unpack(data):
            k = (word * _M) & _MASK
            k ^= k >> 24
            h = ((h * _M) & _MASK) ^ ((k * _M) & _MASK)
    tail = length & 3
    if tail:
        base = length - tail
        if tail == 3:
            h ^= data[base + 2] << 16
        if tail >= 2:
            h ^= data[base + 1] << 8
        h = ((h ^ data[base]) * _M) & _MASK
    h ^= h >> 13
    h = (h * _M) & _MASK
    return h ^ (h >> 15)


def partition_of(key: bytes | None, all_partitions: list[int], available: list[int]) -> int:
    """The partition of a record, exactly as aiokafka's DefaultPartitioner chooses it."""
    if key is None:
        # Keyless records carry no order to keep: any available partition will do.
        return random.choice(available or all_partitions)  # noqa: S311 - load spreading only
    return all_partitions[(murmur2(key) & 0x7FFFFFFF) % len(all_partitions)]
