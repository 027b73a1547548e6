"""One `lgsp bench` run: start what is needed, run the selected scenarios, write the JSON.

Order matters on a small machine: the codec first (nothing else running), then the
baselines K and H, then the gateway process, which drains its pre-loaded backlog as soon
as it starts, then the ingest paths and the latency runs against that same process.
Everything started is stopped in reverse order however the run ends.
"""

from __future__ import annotations

__all__ = ["run_bench"]

import asyncio
import contextlib
import dataclasses
import os
import platform
import secrets
import shutil
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
from pydantic import SecretStr

from devkit.bench.baselines import kafka_ceiling
from devkit.bench.codec import measure_codec
from devkit.bench.environment import GatewayProcess, start_broker, start_stub
from devkit.bench.index_scenario import index_scenario
from devkit.bench.measure import Throughput
from devkit.bench.options import BenchOptions
from devkit.bench.payloads import DOSSIER_EVENT, DossierEvents, encoded_envelope
from devkit.bench.processes import ChildProcess
from devkit.bench.report import Report, write_json
from devkit.bench.scenarios import (
    DrainResult,
    LedgerTail,
    Rig,
    http_ceiling,
    ioffice_ingest,
    latency_at,
    preload,
    router_drain,
    time_bound,
    webhook_ingest,
)
from gateway.child_process import Memory
from gateway.contracts import Codec, SchemaRegistry
from gateway.errors import KafkaUnavailableError
from gateway.kafka import KafkaAdmin, Producer, TopicSpec
from gateway.settings import Settings, load_settings
from gateway.topics import Topics

Progress = Callable[[str], None]

_PARTITIONS = 3  # as the connector runtime creates connector topics
_BACKLOG = "bench-backlog"


async def run_bench(options: BenchOptions, progress: Progress) -> tuple[dict[str, Any], Path]:
    """Run the benchmark; returns the JSON document and where it was written."""
    settings = load_settings(options.config)
    started = datetime.now(UTC)
    stamp = started.strftime("%Y%m%dT%H%M%SZ")
    output = options.output or Path("bench-results") / f"bench-{stamp}.json"
    log_dir = output.parent / f"{output.stem}-logs"
    # Broker data and the stub's journal can reach gigabytes: kept out of the results
    # folder, and removed at the end.
    work = settings.state_dir.resolve() / "bench" / stamp
    registry = await asyncio.to_thread(SchemaRegistry.load, settings.schemas_dir)
    codec = Codec(registry)
    report = Report(meta=await _meta(options, started, log_dir))
    clock = time.monotonic()
    if "codec" in options.scenarios:
        progress(f"codec: {options.codec_records:,} encodes and decodes per level, one core")
        report.codec = await asyncio.to_thread(measure_codec, codec, options.codec_records)
    index_doc = await _index(options, settings, codec, progress)
    if options.scenarios - {"codec", "index"}:
        try:
            await _pipeline(options, settings, codec, report, work=work, log_dir=log_dir,
                            progress=progress)
        finally:
            await asyncio.to_thread(shutil.rmtree, work, True)
    report.meta["elapsed_s"] = round(time.monotonic() - clock, 1)
    report.meta["load_average_end"] = list(os.getloadavg())
    doc = report.as_json()
    if index_doc is not None:
        doc["index"] = index_doc
    await asyncio.to_thread(write_json, doc, output)
    return doc, output


async def _index(options: BenchOptions, settings: Settings, codec: Codec,
                 progress: Progress) -> dict[str, Any] | None:
    """The transaction index scenario (devkit/bench/index_scenario.py), if selected."""
    if "index" not in options.scenarios:
        return None
    return await index_scenario(settings, codec, transactions=options.index_transactions,
                                postgres_url=options.index_postgres_url, progress=progress)


async def _pipeline(options: BenchOptions, base: Settings, codec: Codec, report: Report, *,
                    work: Path, log_dir: Path, progress: Progress) -> None:
    async with contextlib.AsyncExitStack() as stack:
        rig, stub = await _start_parts(stack, options, base, codec, work=work, log_dir=log_dir,
                                       progress=progress)
        await _baselines(rig, options, report, progress)
        if options.scenarios & {"drain", "batched", "ingest", "latency"}:
            gateway = GatewayProcess(rig.settings, log_dir=log_dir, config=options.config,
                                     profile=options.profile)
            stack.push_async_callback(gateway.stop)
            await _through_gateway(rig, gateway, options, report, progress)
            report.gateway_memory = gateway.memory()
        report.stub_memory = stub.memory() if stub else None
        progress("stopping what the run started")


async def _start_parts(stack: contextlib.AsyncExitStack, options: BenchOptions, base: Settings,
                       codec: Codec, *, work: Path, log_dir: Path,
                       progress: Progress) -> tuple[Rig, ChildProcess | None]:
    """Broker, stub, Kafka clients and the run's topics; each registered for stopping."""
    run_tag = secrets.token_hex(3).upper()
    topics = Topics(f"bench{run_tag.lower()}.")
    secret = secrets.token_urlsafe(24)
    broker_pid: int | None = None
    if options.bootstrap_servers is not None:
        bootstrap = options.bootstrap_servers
    else:
        progress("starting a private Kafka broker")
        bootstrap, broker_pid = await stack.enter_async_context(
            start_broker(base, work / "kafka"))
    where = "in this process" if options.stub_in_process else "as `lgsp stub`"
    progress(f"starting the NDXP stub {where}")
    stub_url, stub = await stack.enter_async_context(start_stub(
        in_process=options.stub_in_process, data_dir=work / "stub", secret=secret,
        fsync=options.stub_fsync, log_dir=log_dir))
    settings = base.model_copy(update={
        "bootstrap_servers": bootstrap, "topic_prefix": topics.prefix, "state_dir": work,
        "ndxp": base.ndxp.model_copy(update={"url": stub_url, "client_secret": SecretStr(secret)}),
    })
    admin = KafkaAdmin(bootstrap, client_id="lgsp-bench")
    try:
        await admin.start()
    except KafkaUnavailableError as exc:
        raise KafkaUnavailableError(f"cannot connect to Kafka at {bootstrap}: {exc}") from exc
    stack.push_async_callback(admin.stop)
    if options.bootstrap_servers is not None:
        # A shared broker keeps nothing of this run (a million-record backlog is big).
        stack.push_async_callback(_delete_topics, admin, topics.prefix)
    producer = Producer(bootstrap, client_id="lgsp-bench")
    await producer.start()
    stack.push_async_callback(producer.stop)
    session = await stack.enter_async_context(
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)))
    rig = Rig(settings, codec, topics, DossierEvents(run_tag), session, producer, stub_url,
              secret, stub, broker_pid)
    # Every topic the router reads exists before it starts: a topic appearing later
    # would trigger a rebalance in the middle of a measurement.
    await admin.ensure_topics([TopicSpec(name, _PARTITIONS) for name in (
        rig.unrouted("kafka"), *(_http_backlog(rig, r) for r in range(1, options.rounds + 1)),
        *(topics.source(_latency_connector(rate)) for rate in options.rates))])
    # Partitions are the unit a consumer group shares out: as many per router process.
    await admin.ensure_topics(
        [TopicSpec(topics.source(_BACKLOG), _PARTITIONS * options.router_processes)])
    return rig, stub


def _http_backlog(rig: Rig, round_no: int) -> str:
    return rig.unrouted("http-backlog" if round_no == 1 else f"http-backlog-{round_no}")


async def _http_once(rig: Rig, count: int, round_no: int) -> Throughput:
    """Baseline H on a fresh backlog of its own."""
    topic = _http_backlog(rig, round_no)
    await preload(rig, topic, count, "bench-http")
    return await http_ceiling(rig, topic, count, round_no)


async def _drain_once(rig: Rig, gateway: GatewayProcess, options: BenchOptions,
                      progress: Progress) -> tuple[DrainResult, Memory]:
    """The router drains a fresh backlog: the gateway, or `router_processes` router-only
    processes; returns the drain and the (first) router's memory."""
    n = options.transactions
    if options.router_processes > 1:
        # Scale-out: router-only processes started together (the first to join still
        # drains alone for a moment, then hands partitions over cleanly); the gateway of
        # the later scenarios starts afterwards.
        routers = [GatewayProcess(rig.settings, log_dir=gateway.log_dir, config=options.config,
                                  profile=None, name=f"router-{i}", roles="router")
                   for i in range(1, options.router_processes + 1)]
        progress(f"router drain: pre-loading {n:,} transactions, then starting "
                 f"{len(routers)} router processes")
        await preload(rig, rig.topics.source(_BACKLOG), n, _BACKLOG)
        try:
            drained = await router_drain(rig, routers, n)
            return drained, routers[0].memory()
        finally:
            await asyncio.gather(*(router.stop() for router in routers))
    if gateway.started:
        # A later round: the whole backlog is loaded before the router sees any of it.
        await gateway.stop()
    progress(f"router drain: pre-loading {n:,} transactions, then starting `lgsp run`")
    await preload(rig, rig.topics.source(_BACKLOG), n, _BACKLOG)
    drained = await router_drain(rig, [gateway], n)
    return drained, gateway.memory()


async def _baselines(rig: Rig, options: BenchOptions, report: Report,
                     progress: Progress) -> None:
    n = options.transactions
    if "kafka" in options.scenarios:
        progress(f"baseline K: produce then consume {n:,} envelopes")
        report.kafka = await kafka_ceiling(
            rig.settings.bootstrap_servers, rig.unrouted("kafka"), _sample_records(rig, 1_024),
            n, group=f"{rig.topics.prefix}bench-k", timeout_s=time_bound(n))
    if "http" in options.scenarios:
        progress(f"baseline H: pre-loading {n:,} transactions, then forwarding them")
        report.http = await _http_once(rig, n, 1)


async def _through_gateway(rig: Rig, gateway: GatewayProcess, options: BenchOptions,
                           report: Report, progress: Progress) -> None:
    n, selected = options.transactions, options.scenarios
    if "drain" in selected:
        drained, report.drain_memory = await _drain_once(rig, gateway, options, progress)
        report.drain, report.drain_rss = drained.throughput, drained.rss_mib
        report.drain_processes = options.router_processes
        if "http" in selected:
            # More rounds alternate H and the router, so a busy spell of the machine
            # does not favour one of them; the median ratio is judged.
            for round_no in range(2, options.rounds + 1):
                progress(f"round {round_no}: baseline H, then the router drain")
                http = await _http_once(rig, n, round_no)
                again, _ = await _drain_once(rig, gateway, options, progress)
                report.extra_rounds.append((http, again.throughput))
    if "batched" in selected:
        await _batched_drain(rig, gateway, options, report, progress)
    if not gateway.started:
        progress("starting `lgsp run`")
        await gateway.start()
    if "ingest" in selected:
        e = options.ingest_events
        progress(f"ingest: webhook, {e:,} single events over {options.concurrency} connections")
        report.ingest["webhook_single"] = await webhook_ingest(
            rig, gateway, "bench-webhook", events=e, batch=1, concurrency=options.concurrency)
        progress(f"ingest: webhook, {e:,} events in batches of {options.batch_size}")
        report.ingest["webhook_batched"] = await webhook_ingest(
            rig, gateway, "bench-webhook-batch", events=e, batch=options.batch_size,
            concurrency=max(1, options.concurrency // 8))
        progress(f"ingest: ioffice poller, {e:,} documents waiting")
        report.ingest["ioffice"] = await ioffice_ingest(rig, gateway, "bench-ioffice",
                                                        documents=e)
    if "latency" in selected:
        ledger = LedgerTail(rig)
        for rate in options.rates:
            progress(f"latency: {rate:,.0f} tx/s open loop for "
                     f"{options.warmup_s + options.duration_s:g}s")
            report.latency.append(await latency_at(
                rig, gateway, ledger, _latency_connector(rate), rate=rate,
                duration_s=options.duration_s, warmup_s=options.warmup_s))


async def _batched_drain(rig: Rig, gateway: GatewayProcess, options: BenchOptions,
                         report: Report, progress: Progress) -> None:
    """The same backlog drained by a gateway that batches (its service takes batches)."""
    if gateway.started:
        await gateway.stop()  # one group member at a time drains the backlog
    batched = GatewayProcess(rig.settings, log_dir=gateway.log_dir, config=options.config,
                             profile=None, name="gateway-batched", batching=True)
    n = options.transactions
    progress(f"batched drain: pre-loading {n:,} transactions, then starting `lgsp run` "
             "with batching on")
    await preload(rig, rig.topics.source(_BACKLOG), n, _BACKLOG)
    try:
        drained = await router_drain(rig, [batched], n)
        report.batched, report.batched_rss = drained.throughput, drained.rss_mib
        report.batched_memory = batched.memory()
    finally:
        await batched.stop()


def _latency_connector(rate: float) -> str:
    return f"bench-latency-{rate:g}"


def _sample_records(rig: Rig, count: int) -> list[tuple[bytes, bytes]]:
    """Distinct (key, envelope) pairs for baseline K to cycle through."""
    schema = rig.codec.registry.latest(DOSSIER_EVENT)
    first = rig.indices(count)
    records = []
    for i in range(first, first + count):
        key = rig.events.business_key(i)
        payload = rig.codec.encode(schema, rig.events.datum(i))
        envelope = encoded_envelope(rig.codec, schema, payload, key, connector="bench-kafka")
        records.append((key.encode(), envelope))
    return records


async def _delete_topics(admin: KafkaAdmin, prefix: str) -> None:
    names = [t for t in await admin.list_topics() if t.startswith(prefix)]
    if names:
        await admin.delete_topics(names)


async def _meta(options: BenchOptions, started: datetime, log_dir: Path) -> dict[str, Any]:
    fields = {k: str(v) if isinstance(v, Path) else v
              for k, v in dataclasses.asdict(options).items() if v is not None}
    fields["scenarios"] = sorted(options.scenarios)
    fields["rates"] = list(options.rates)
    return {
        "started_at": started.isoformat(timespec="seconds"),
        "options": fields,
        "host": {"cpus": os.cpu_count(), "python": platform.python_version(),
                 "platform": platform.platform()},
        "git_revision": await _git_revision(),
        "load_average_start": list(os.getloadavg()),
        "logs": str(log_dir),
    }


async def _git_revision() -> str | None:
    with contextlib.suppress(OSError):
        proc = await asyncio.create_subprocess_exec(
            "git", "describe", "--always", "--dirty", stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL)
        out, _ = await proc.communicate()
        if proc.returncode == 0:
            return out.decode().strip()
    return None
