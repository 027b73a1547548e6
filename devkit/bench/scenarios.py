"""The measured scenarios, each against the parts `runner` started.

Data: every scenario uses `DossierEvents` (about 1 KB one-stop events); indices are
handed out by `Rig.indices` so no two scenarios publish the same event id, hence the
same transaction id (the stub would answer a repeat as a cheap duplicate).
"""

from __future__ import annotations

__all__ = [
    "DrainResult",
    "IngestResult",
    "LatencyResult",
    "Rig",
    "http_ceiling",
    "ioffice_ingest",
    "latency_at",
    "preload",
    "router_drain",
    "webhook_ingest",
]

import asyncio
import contextlib
import functools
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import aiohttp

from connectors.one_stop.connector import WEBHOOK_PATH
from devkit.bench.baselines import forward_minimally, produce_all
from devkit.bench.environment import GatewayProcess
from devkit.bench.loadgen import LoadResult, WebhookLoad
from devkit.bench.measure import (
    BenchError,
    CpuMeter,
    Latency,
    Throughput,
    bounded,
    gateway_counter,
    latency_of,
    stub_unique,
    watch,
)
from devkit.bench.payloads import (
    DOSSIER_EVENT,
    PROVINCE,
    DossierEvents,
    WebhookBodies,
    encoded_envelope,
)
from devkit.bench.processes import ChildProcess, read_cpu_s
from devkit.localkafka import free_port
from devkit.simulators.ioffice import IOfficeSimulator
from gateway.contracts import Codec
from gateway.kafka import Producer, TopicPartition, TopicReader
from gateway.router.outcomes import LEDGER_SCHEMA
from gateway.settings import Settings
from gateway.topics import Topics

# Distinct payloads cycled through when filling a backlog: encoding a fresh 1 KB payload
# per record would make preloading a million records take minutes for no insight.
_PAYLOAD_VARIETY = 1_024
# Generous floor rate for time bounds: a step slower than this is broken, not slow.
_FLOOR_PER_S = 100.0


def time_bound(count: int) -> float:
    """How long a step moving `count` records may take before it is called broken."""
    return 60.0 + count / _FLOOR_PER_S


@dataclass(slots=True)
class Rig:
    """What every scenario needs: settings, clients and the run's data generator."""

    settings: Settings
    codec: Codec
    topics: Topics
    events: DossierEvents
    session: aiohttp.ClientSession
    producer: Producer
    stub_url: str
    secret: str
    stub: ChildProcess | None = None
    broker_pid: int | None = None
    next_index: int = 0
    bodies: WebhookBodies = field(init=False)

    def __post_init__(self) -> None:
        self.bodies = WebhookBodies(self.events)

    def meters(self, **others: CpuMeter) -> dict[str, CpuMeter]:
        """CPU meters of `others`, of the stub and of the broker when they are our processes.

        Together they show where a transaction's CPU time goes on the machine, which on
        two cores bounds every rate as much as the gateway's own cost does.
        """
        found = dict(others)
        if self.stub is not None:
            found["stub"] = self.stub.cpu_s
        if self.broker_pid is not None:
            found["broker"] = functools.partial(read_cpu_s, self.broker_pid)
        return found

    def indices(self, count: int) -> int:
        """Reserve `count` event indices; returns the first."""
        first, self.next_index = self.next_index, self.next_index + count
        return first

    def unrouted(self, name: str) -> str:
        """A topic outside the router's subscription: ingest alone is measured there."""
        return f"{self.topics.prefix}bench.{name}"


async def preload(rig: Rig, topic: str, count: int, connector: str) -> None:
    """Fill `topic` with `count` envelopes as the one-stop connector would have published."""
    schema = rig.codec.registry.latest(DOSSIER_EVENT)
    first = rig.indices(count)
    payloads = [rig.codec.encode(schema, rig.events.datum(first + i))
                for i in range(min(count, _PAYLOAD_VARIETY))]

    def records() -> Iterator[tuple[bytes, bytes]]:
        for i in range(first, first + count):
            key = rig.events.business_key(i)
            yield key.encode(), encoded_envelope(rig.codec, schema, payloads[i % len(payloads)],
                                                 key, connector=connector)

    async with bounded(time_bound(count), f"pre-loading {count:,} transactions"):
        await produce_all(rig.producer, topic, records())


# How long baseline H may take, after the stub counted its last transaction, to finish.
_FINISH_S = 30.0


async def http_ceiling(rig: Rig, topic: str, count: int, round_no: int = 1) -> Throughput:
    """Baseline H: the minimal forwarder drains `topic` to the stub."""
    counter = stub_unique(rig.session, rig.stub_url)
    base = await counter()
    forwarding = asyncio.create_task(forward_minimally(
        rig.settings, rig.codec, topic, count, group=f"{rig.topics.prefix}bench-h{round_no}",
        timeout_s=time_bound(count)))
    try:
        rate = await watch(counter, count, start=base, timeout_s=time_bound(count),
                           what="baseline H", alive=lambda: not forwarding.done(),
                           cpu=rig.meters(forwarder=time.process_time))
    except BaseException as exc:
        if isinstance(exc, BenchError) and forwarding.done():
            forwarding.result()  # the forwarder's own error says more
        forwarding.cancel()
        await asyncio.wait([forwarding])
        raise
    # The stub counts the last transaction before its answer reaches the forwarder: the
    # forwarder reads its last answers and closes by itself (cancelling it here made a
    # finished run fail with CancelledError).
    await asyncio.wait_for(forwarding, _FINISH_S)
    return rate


@dataclass(frozen=True, slots=True)
class DrainResult:
    """The drain's rate, and the gateway's memory as the backlog went down."""

    throughput: Throughput
    rss_mib: list[tuple[int, float]]
    """(transactions delivered, resident MiB) about every `_RSS_EVERY_S` seconds."""


_RSS_EVERY_S = 5.0


async def router_drain(rig: Rig, routers: Sequence[GatewayProcess], count: int) -> DrainResult:
    """Start `lgsp run` processes on a pre-loaded backlog; the rate they deliver it at, and
    the first one's memory along the way."""
    counter = stub_unique(rig.session, rig.stub_url)
    base = await counter()
    gateway = routers[0]
    meters: dict[str, CpuMeter] = {"gateway": gateway.process.cpu_s}
    meters.update({f"router{n}": router.process.cpu_s
                   for n, router in enumerate(routers[1:], 2)})
    # The watcher runs while the gateway starts, so its first sample precedes the
    # first delivery and the rate covers the whole drain.
    watching = asyncio.create_task(watch(
        counter, count, start=base, timeout_s=time_bound(count), what="router drain",
        alive=lambda: all(router.alive() for router in routers), cpu=rig.meters(**meters)))
    rss: list[tuple[int, float]] = []

    async def sample_rss() -> None:
        # Is memory flat as the backlog drains, or does it grow with it?
        while True:
            await asyncio.sleep(_RSS_EVERY_S)
            memory = gateway.process.memory()
            if memory is not None:
                rss.append((await counter() - base, round(memory.rss_mib, 1)))

    sampling = asyncio.create_task(sample_rss())
    try:
        await asyncio.gather(*(router.start() for router in routers))
        return DrainResult(await watching, rss)
    finally:
        for task in (watching, sampling):
            task.cancel()
        await asyncio.wait([watching, sampling])


@dataclass(frozen=True, slots=True)
class IngestResult:
    """Transactions/s accepted by a connector up to Kafka's acknowledgement."""

    throughput: Throughput
    failed: int = 0


async def webhook_ingest(rig: Rig, gateway: GatewayProcess, name: str, *, events: int,
                         batch: int, concurrency: int) -> IngestResult:
    """The one-stop webhook under a closed loop of signed requests (routing excluded)."""
    port = free_port()
    await gateway.create_connector(rig.session, name, {
        "connector.class": "one-stop", "source.agency.code": PROVINCE,
        "listen.host": "127.0.0.1", "listen.port": port, "webhook.secret": rig.secret,
        "topic": rig.unrouted(name),
    })
    load = WebhookLoad(f"http://127.0.0.1:{port}{WEBHOOK_PATH}", rig.secret,
                       rig.bodies.body, connections=concurrency)
    # A short warm-up opens the connections and fills caches; it is not measured.
    warm = min(events, max(batch * concurrency, 200))
    await load.closed_loop(start=rig.indices(warm), events=warm, batch=batch,
                           concurrency=concurrency, timeout_s=time_bound(warm))
    with cpu_spent(rig.meters(gateway=gateway.process.cpu_s,
                              loadgen=time.process_time)) as spent:
        result = await load.closed_loop(start=rig.indices(events), events=events, batch=batch,
                                        concurrency=concurrency, timeout_s=time_bound(events))
    if result.accepted == 0:
        raise BenchError(f"webhook ingest ({name}): no event was accepted; "
                         f"see {gateway.process.log_path}")
    return IngestResult(Throughput(result.accepted, result.elapsed_s, spent), result.failed)


async def ioffice_ingest(rig: Rig, gateway: GatewayProcess, name: str, *,
                         documents: int) -> IngestResult:
    """The ioffice poller reading `documents` waiting in a simulated iOffice."""
    simulator = IOfficeSimulator(seed=7)
    await simulator.start()
    try:
        for done in range(0, documents, 500):
            simulator.generate(min(500, documents - done))
            await asyncio.sleep(0)  # generating is CPU work: let the loop breathe between
        counter = gateway_counter(rig.session, gateway.url, "lgsp_ingested_total",
                                  f'connector="{name}"')
        watching = asyncio.create_task(watch(
            counter, documents, start=0, timeout_s=time_bound(documents),
            what="ioffice ingest", interval_s=0.05, alive=gateway.alive,
            cpu=rig.meters(gateway=gateway.process.cpu_s)))
        try:
            await gateway.create_connector(rig.session, name, {
                "connector.class": "ioffice", "source.agency.code": PROVINCE,
                "api.url": simulator.url, "api.auth.type": "none", "poll.interval.ms": 100,
                "page.size": 1000, "topic": rig.unrouted(name),
            })
            return IngestResult(await watching)
        finally:
            if not watching.done():
                watching.cancel()
            await asyncio.wait([watching])
    finally:
        await simulator.stop()


@dataclass(frozen=True, slots=True)
class LatencyResult:
    """End-to-end latency at one offered rate, and what the generator achieved."""

    offered_per_s: float
    load: LoadResult
    latency: Latency
    cpu_s: dict[str, float]


class LedgerTail:
    """Reads the ledger onwards from where the previous read stopped."""

    def __init__(self, rig: Rig) -> None:
        self._rig = rig
        self._schema = rig.codec.registry.latest(LEDGER_SCHEMA)
        self._positions: dict[TopicPartition, int] = {}

    async def outcomes(self, wanted: set[bytes]) -> list[dict[str, Any]]:
        """The ledger records (decoded) whose key is one of `wanted` transaction ids."""
        found: list[dict[str, Any]] = []
        reader = TopicReader(self._rig.settings.bootstrap_servers, client_id="lgsp-bench-ledger")
        await reader.start()
        try:
            async for rec in reader.read([self._rig.topics.ledger], start=dict(self._positions)):
                self._positions[rec.tp] = rec.offset + 1
                if rec.key in wanted and rec.value is not None:
                    found.append(self._rig.codec.decode(rec.value, self._schema))
        finally:
            await reader.stop()
        return found


async def latency_at(rig: Rig, gateway: GatewayProcess, ledger: LedgerTail, name: str, *,
                     rate: float, duration_s: float, warmup_s: float) -> LatencyResult:
    """Open-loop single events at `rate`/s through webhook, router and stub.

    Latency is the ledger's `latency_ms`: from the event's `occurred_at` (its scheduled
    send time, cut to milliseconds by the envelope schema) to the router's receipt of the
    stub's 200. Events scheduled during the warm-up are sent but not counted.
    """
    port = free_port()
    await gateway.create_connector(rig.session, name, {
        "connector.class": "one-stop", "source.agency.code": PROVINCE,
        "listen.host": "127.0.0.1", "listen.port": port, "webhook.secret": rig.secret,
    })
    counter = stub_unique(rig.session, rig.stub_url)
    base = await counter()
    total_s = warmup_s + duration_s
    load = WebhookLoad(f"http://127.0.0.1:{port}{WEBHOOK_PATH}", rig.secret,
                       rig.bodies.body, connections=512)
    count = int(rate * total_s)
    started = datetime.now().astimezone()
    with cpu_spent(rig.meters(gateway=gateway.process.cpu_s,
                              loadgen=time.process_time)) as spent:
        result = await load.open_loop(start=rig.indices(count), rate=rate, duration_s=total_s,
                                      max_outstanding=max(1_000, int(rate * 2)),
                                      timeout_s=total_s + time_bound(count))
        if result.accepted == 0:
            raise BenchError(f"latency at {rate:g}/s: no event was accepted")
        await watch(counter, result.accepted, start=base, timeout_s=time_bound(result.accepted),
                    what=f"deliveries at {rate:g}/s", alive=gateway.alive)
    wanted = {tx.encode() for tx in result.transaction_ids}
    measured_from = started + timedelta(seconds=warmup_s)
    samples: list[float] = []
    for _ in range(50):  # the ledger record follows the delivery by a few milliseconds
        for outcome in await ledger.outcomes(wanted):
            wanted.discard(outcome["transaction_id"].encode())
            if outcome["occurred_at"] >= measured_from and outcome["latency_ms"] is not None:
                samples.append(outcome["latency_ms"])
        if not wanted:
            break
        await asyncio.sleep(0.2)
    if wanted:
        raise BenchError(f"latency at {rate:g}/s: {len(wanted)} delivered transactions have "
                         "no ledger record")
    return LatencyResult(rate, result, latency_of(samples), spent)


@contextlib.contextmanager
def cpu_spent(meters: Mapping[str, CpuMeter]) -> Iterator[dict[str, float]]:
    """CPU seconds each meter's process spent inside the block (filled in on exit)."""
    before = {name: meter() for name, meter in meters.items()}
    spent: dict[str, float] = {}
    yield spent
    for name, meter in meters.items():
        begin, end = before[name], meter()
        if begin is not None and end is not None:
            spent[name] = end - begin
