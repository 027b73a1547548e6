"""The two ceilings the gateway is measured against, in the same run, on the same data.

- K, the Kafka ceiling: produce N encoded envelopes (acks=all, idempotent, as the
  gateway's producer does), then consume them with a consumer group. It goes through
  `gateway.kafka`'s `Producer` and `GroupConsumer`: they add one small object per record
  over aiokafka, the very layer the router pays for too, so the ceiling stays honest
  without a second Kafka client in the code base.
- H, the HTTP ceiling: a minimal forwarder with the router's concurrency. It consumes,
  decodes, and POSTs each transaction with the same `NdxpClient` (same JSON body,
  Idempotency-Key, bearer token and connection pool), and nothing else: no per-key
  order, no retries, no ledger, no offset commits.
"""

from __future__ import annotations

__all__ = ["KafkaCeiling", "forward_minimally", "kafka_ceiling", "produce_all"]

import asyncio
import time
from collections.abc import Awaitable, Iterable, Sequence
from dataclasses import dataclass
from itertools import cycle, islice

from devkit.bench.measure import BenchError, Throughput, bounded
from gateway.contracts import Codec, Envelope
from gateway.errors import ForwardError
from gateway.kafka import DeliveryReport, GroupConsumer, Producer, Record
from gateway.ndxp import NdxpClient, OutboundTransaction
from gateway.router import RoutingTable
from gateway.settings import Settings

# Acknowledgements are awaited in windows: bounded memory however large N is, and the
# producer still has thousands of records to batch.
_ACK_WINDOW = 5_000


@dataclass(frozen=True, slots=True)
class KafkaCeiling:
    """Baseline K: produce and consume rates of the same records."""

    produce: Throughput
    consume: Throughput

    @property
    def round_trip_per_s(self) -> float:
        """Records/s for producing and then consuming each record once.

        A router drain does both per transaction (it consumes the record and produces
        its ledger record), so this is the Kafka work it is compared with.
        """
        total = self.produce.elapsed_s + self.consume.elapsed_s
        return self.produce.count / total if total > 0 else 0.0


async def produce_all(producer: Producer, topic: str,
                      records: Iterable[tuple[bytes, bytes]]) -> None:
    """Produce (key, value) records, pipelined; return once Kafka acknowledged every one."""
    acks: list[Awaitable[DeliveryReport]] = []
    for key, value in records:
        acks.append(await producer.send(topic, value, key=key))
        if len(acks) >= _ACK_WINDOW:
            await asyncio.gather(*acks)
            acks = []
    await asyncio.gather(*acks)


async def kafka_ceiling(bootstrap: str, topic: str, records: Sequence[tuple[bytes, bytes]],
                        count: int, *, group: str, timeout_s: float) -> KafkaCeiling:
    """Baseline K on an existing, empty topic."""
    producer = Producer(bootstrap, client_id="lgsp-bench-k")
    await producer.start()
    try:
        # One record first: fetching the topic's metadata is not producing.
        key, value = records[0]
        await producer.send_and_wait(topic, value, key=key)
        started = time.monotonic()
        async with bounded(timeout_s, "baseline K producing"):
            await produce_all(producer, topic, islice(cycle(records), count))
        produced = Throughput(count, time.monotonic() - started)
    finally:
        await producer.stop()
    consumer = GroupConsumer(bootstrap, group_id=group, topics=[topic], client_id="lgsp-bench-k")
    await consumer.start()
    try:
        async with bounded(timeout_s, "baseline K consuming"):
            first = await _poll_some(consumer)
            # The clock starts at the first records: joining the group is not consuming.
            started, seen = time.monotonic(), len(first)
            while seen < count + 1:  # the warm-up record too
                seen += len(await consumer.poll(0.2, max_records=500))
        consumed = Throughput(seen - len(first), time.monotonic() - started)
    finally:
        await consumer.stop()
    return KafkaCeiling(produced, consumed)


async def _poll_some(consumer: GroupConsumer) -> list[Record]:
    while not (records := await consumer.poll(0.2, max_records=500)):
        pass
    return records


async def forward_minimally(settings: Settings, codec: Codec, topic: str, count: int, *,
                            group: str, timeout_s: float) -> int:
    """Baseline H: forward `count` records of `topic` to the national endpoint; failures."""
    routes = RoutingTable(settings.router.routes)
    slots = asyncio.Semaphore(settings.router.max_in_flight)
    tasks: set[asyncio.Task[None]] = set()
    failures = 0

    async def forward(rec: Record) -> None:
        nonlocal failures
        try:
            assert rec.value is not None, "the backlog holds no tombstones"
            env = Envelope.decode(codec, rec.value)
            tx = OutboundTransaction(
                env.transaction_id, env.correlation_id, env.source_system,
                env.source_agency_code, env.message_type, env.schema_version, env.occurred_at,
                env.decode_payload(codec))
            service = routes.resolve(env.message_type, env.source_system, env.target_service)
            await client.submit(service, tx)
        except ForwardError:
            failures += 1
        finally:
            slots.release()

    client = NdxpClient(settings.ndxp)
    consumer = GroupConsumer(settings.bootstrap_servers, group_id=group, topics=[topic],
                             client_id="lgsp-bench-h")
    await client.start()
    try:
        await consumer.start()
        async with bounded(timeout_s, "baseline H"):
            received = 0
            while received < count:
                for rec in await consumer.poll(0.2, max_records=500):
                    await slots.acquire()
                    task = asyncio.create_task(forward(rec))
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)
                    received += 1
            await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await consumer.stop()
        await client.close()
    if failures:
        raise BenchError(f"baseline H: {failures} of {count} transactions were not accepted")
    return count
