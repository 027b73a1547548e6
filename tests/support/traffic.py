"""A stream of transactions from the three provincial systems, and bad data beside it.

The simulators are the real ones (iOffice document API, the one-stop system's signed
webhook sender, the reporting system's file exports); this module paces them over a
stream's duration and turns what each system handed over into the transaction ids the
connectors derive (UUIDv5 of connector name and source id, `gateway.connect.context`):

- iOffice: `<document_id>@<modified_at in UTC, isoformat>` of every document version the
  API lists at the end (the final versions; earlier ones are counted from the topic);
- one-stop: the event id of every valid event the sender sent and got accepted;
- reporting: `<sha256 of the file>:<index of the report>` of every well-formed file.

Bad data goes straight onto the connector topics with the gateway's own Kafka producer,
as a misbehaving client or a corrupted export would put it there: bytes that are no
Avro envelope, and well-formed envelopes of a message type no route knows.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import random
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import aiohttp

from devkit.simulators.ioffice import IOfficeSimulator
from devkit.simulators.one_stop import DossierEventSender, SendSummary
from devkit.simulators.reporting import ReportWriter, WrittenFile
from gateway.connect.context import transaction_id_for
from gateway.contracts import Codec
from gateway.errors import KafkaError
from gateway.headers import H_TRANSACTION
from gateway.kafka import Producer
from gateway.topics import Topics
from tests.support.pipeline import dossier_envelope

IOFFICE = "ioffice"
ONE_STOP = "one-stop"
REPORTING = "reporting"
CONNECTORS = (IOFFICE, ONE_STOP, REPORTING)

UNROUTABLE_TYPE = "onestop.dossier_archived"
"""A message type no route knows: such a record must be dead-lettered with NoRouteError."""


@dataclass(frozen=True, slots=True)
class StreamPlan:
    """How much each system sends, over about how long, and how much of it is bad.

    `documents` counts iOffice changes: new documents, and (`modify_share` of them)
    edits of an existing document, each a new version and so a new transaction.
    """

    documents: int
    events: int
    report_files: int
    seconds: float
    reports_per_json: int = 3
    invalid_share: float = 0.0
    resend_share: float = 0.0
    webhook_timeout_s: float = 10.0
    bad_records: int = 0
    modify_share: float = 0.1
    seed: int = 20261102

    @property
    def approx_transactions(self) -> int:
        """Roughly how many transactions the plan produces (half the files are JSON)."""
        files = self.report_files
        return (self.documents + self.events + files // 2
                + (files - files // 2) * self.reports_per_json + self.bad_records)


@dataclass(slots=True)
class TrafficResult:
    """What the systems reported about their own sending."""

    one_stop: SendSummary | None = None
    files: list[WrittenFile] = field(default_factory=list)
    documents: int = 0
    modified: int = 0
    bad_undecodable: set[str] = field(default_factory=set)
    bad_unroutable: set[str] = field(default_factory=set)


async def paced(total: int, seconds: float, step: Callable[[int], Awaitable[None]],
                *, ticks_per_s: float = 20.0) -> None:
    """Call `step(n)` so that `total` units are spread evenly over about `seconds`."""
    if total <= 0:
        return
    started = time.monotonic()
    done = 0
    while done < total:
        elapsed = time.monotonic() - started
        due = total if seconds <= 0 else min(total, int(total * elapsed / seconds) + 1)
        if due > done:
            await step(due - done)
            done = due
        await asyncio.sleep(1 / ticks_per_s)


class Traffic:
    """Drives the three simulated systems and the bad-data injector for one scenario."""

    def __init__(
        self,
        plan: StreamPlan,
        *,
        ioffice: IOfficeSimulator,
        webhook_url: str,
        webhook_secret: str,
        drop_dir: Path,
        bootstrap: str,
        topics: Topics,
        codec: Codec,
    ) -> None:
        self.plan = plan
        self.ioffice = ioffice
        self.sender = DossierEventSender(
            webhook_url, webhook_secret, rate=plan.events / plan.seconds if plan.seconds else None,
            concurrency=8, invalid_share=plan.invalid_share, resend_share=plan.resend_share,
            seed=plan.seed, timeout_s=plan.webhook_timeout_s,
            # A real system keeps retrying for minutes; the budget must outlast a gateway
            # restart or a broker restart, so what it gave up on is never a surprise.
            max_attempts=40, keep_sent=True,
        )
        self.writer = ReportWriter(drop_dir, malformed_share=plan.invalid_share, seed=plan.seed)
        self.drop_dir = drop_dir
        self.bootstrap = bootstrap
        self.topics = topics
        self.codec = codec
        self.result = TrafficResult()
        self._report_ids: set[str] = set()
        self._bad_seq = itertools.count(1)
        self._rng = random.Random(plan.seed)

    async def run(self) -> TrafficResult:
        """Send the whole plan (all systems at once); returns when every system is done."""
        plan = self.plan
        async with asyncio.TaskGroup() as group:
            group.create_task(paced(plan.documents, plan.seconds, self._documents))
            group.create_task(self._events())
            group.create_task(paced(plan.report_files, plan.seconds, self._files))
            if plan.bad_records:
                group.create_task(self._bad_data())
        return self.result

    async def _documents(self, count: int) -> None:
        for _ in range(count):
            if self.result.documents and self._rng.random() < self.plan.modify_share:
                self.ioffice.touch(f"VB{self._rng.randint(1, self.result.documents):08d}")
                self.result.modified += 1
            else:
                self.ioffice.generate(1)
                self.result.documents += 1

    async def _events(self) -> None:
        if self.plan.events:
            self.result.one_stop = await self.sender.send(self.plan.events)

    async def _files(self, count: int) -> None:
        for _ in range(count):
            seq = len(self.result.files)
            # CSV rows of one report are grouped by (report, period, unit); one report per
            # CSV file keeps the count exact. JSON files carry several reports each.
            if seq % 2:
                written = await self.writer.write_file(self.plan.reports_per_json, fmt="json")
            else:
                written = await self.writer.write_file(1, fmt="csv")
            self.result.files.append(written)
            if not written.malformed:
                self._report_ids.update(await _report_ids(written, self.drop_dir))

    async def _bad_data(self) -> None:
        producer = Producer(self.bootstrap, client_id="fault-bad-data")
        await _retry_kafka(producer.start)
        try:
            async def inject(count: int) -> None:
                for _ in range(count):
                    await self._inject_one(producer)
            await paced(self.plan.bad_records, self.plan.seconds, inject, ticks_per_s=5)
        finally:
            await producer.stop()

    async def _inject_one(self, producer: Producer) -> None:
        n = next(self._bad_seq)
        connector = CONNECTORS[n % len(CONNECTORS)]
        topic = self.topics.source(connector)
        if n % 2:
            tx = str(uuid.uuid4())
            # Counted as handed over before the send: an ambiguous failure must not hide it.
            self.result.bad_undecodable.add(tx)
            value = b"\x00\x00not an avro envelope " + uuid.UUID(tx).bytes
            key = f"bad-{n}".encode()
        else:
            envelope = dossier_envelope(self.codec, 900_000 + n, message_type=UNROUTABLE_TYPE)
            tx = envelope.transaction_id
            self.result.bad_unroutable.add(tx)
            value = envelope.encode(self.codec)
            key = envelope.business_key.encode()

        async def send() -> None:
            ack = await producer.send(topic, value, key=key,
                                      headers=[(H_TRANSACTION, tx.encode())])
            await ack

        await _retry_kafka(send)

    # --- what the systems handed over, as transaction ids ---------------------------------

    async def ioffice_ids(self) -> set[str]:
        """Ids of the document versions the iOffice API lists now."""
        return await ioffice_transaction_ids(self.ioffice.url, IOFFICE)

    def one_stop_ids(self) -> set[str]:
        """Ids of every valid event the sender sent (all accepted: see `assert_sources_ok`)."""
        return {transaction_id_for(ONE_STOP, str(ev["event_id"]))
                for ev in self.sender.sent_events}

    def reporting_ids(self) -> set[str]:
        """Ids of every report in the well-formed files written."""
        return set(self._report_ids)

    def bad_ids(self) -> set[str]:
        """Ids of the records injected onto the connector topics."""
        return self.result.bad_undecodable | self.result.bad_unroutable

    async def all_ids(self) -> set[str]:
        """Everything the systems and the injector handed to the gateway."""
        return (await self.ioffice_ids() | self.one_stop_ids() | self.reporting_ids()
                | self.bad_ids())

    def describe(self) -> str:
        """What each system did, in one line (for failure messages)."""
        result = self.result
        summary = result.one_stop.line() if result.one_stop else "-"
        malformed = sum(f.malformed for f in result.files)
        return (f"ioffice: documents={result.documents} edits={result.modified}; one-stop: "
                f"{summary}; reporting: files={len(result.files)} malformed={malformed}; "
                f"injected: undecodable={len(result.bad_undecodable)} "
                f"unroutable={len(result.bad_unroutable)}")

    def source_problems(self) -> list[str]:
        """What the systems themselves report as not handed over (must be nothing)."""
        problems = []
        summary = self.result.one_stop
        if summary is not None and summary.failed:
            problems.append(f"one-stop sender gave up on {summary.failed} events: {summary.line()}")
        # `rejected` counts refused invalid requests too; more than were sent means that
        # valid events were refused. (An invalid request cut off by a crash is not
        # answered at all, so fewer is fine.)
        if summary is not None and summary.rejected > summary.invalid:
            problems.append(f"one-stop valid events were refused: {summary.line()}")
        return problems


async def ioffice_transaction_ids(url: str, connector: str) -> set[str]:
    """Transaction ids of every document version the iOffice API lists (all pages)."""
    ids: set[str] = set()
    page = 1
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        while True:
            async with session.get(f"{url}/api/v1/documents",
                                   params={"page": str(page), "page_size": "1000"}) as resp:
                resp.raise_for_status()
                body = await resp.json()
            for doc in body["items"]:
                modified = datetime.fromisoformat(doc["modified_at"]).astimezone(UTC)
                ids.add(transaction_id_for(connector,
                                           f"{doc['document_id']}@{modified.isoformat()}"))
            if page >= body["total_pages"]:
                return ids
            page += 1


async def _report_ids(written: WrittenFile, drop_dir: Path) -> set[str]:
    """Ids of the reports in a just-written file (read before the connector moves it)."""
    def content() -> bytes:
        for candidate in (written.path, drop_dir / "processed" / written.path.name):
            try:
                return candidate.read_bytes()
            except FileNotFoundError:
                continue
        raise AssertionError(f"report file {written.path.name} vanished before it was read")

    digest = hashlib.sha256(await asyncio.to_thread(content)).hexdigest()
    return {transaction_id_for(REPORTING, f"{digest}:{i}") for i in range(written.reports)}


async def _retry_kafka(call: Callable[[], Awaitable[None]], *, timeout_s: float = 120.0) -> None:
    """Retry a Kafka call through a broker restart, as a producing system would."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            await call()
            return
        except KafkaError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.5)
