"""Accounting for every transaction: sent, delivered once, dead-lettered with a reason, lost.

What counts as *sent*: every distinct source transaction the provincial systems handed
the gateway. Two views are united, so neither can hide a loss:

- what the systems know they handed over (`expect`): the simulators' accepted events,
  generated documents and written report rows, turned into the transaction ids the
  connectors derive from them (UUIDv5 of connector and source id), plus records a test
  put on a connector topic itself;
- what the gateway acknowledged taking (the distinct `lgsp.transaction_id` headers on
  the connector topics): this adds versions the source no longer shows (a document
  changed twice between polls still counts once per version the gateway read).

*Delivered* is read from the national side itself: the stub's durable idempotency
journal (one line per first acceptance of an Idempotency-Key, written before the 200).
*Dead-lettered* are the distinct transaction ids in the dead-letter topic that were not
delivered (a replayed and then delivered one is not counted twice). *Duplicates* is the
stub's own count of requests for keys it already had. `lost = sent - delivered_unique -
dead_lettered`.
"""

from __future__ import annotations

import asyncio
import ssl
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import orjson

from devkit.stub.journal import JOURNAL_NAME
from gateway.contracts import Codec
from gateway.headers import H_EXCEPTION, H_MESSAGE, H_STAGE, H_TRANSACTION
from gateway.kafka import KafkaAdmin, Record, TopicPartition, TopicReader
from gateway.router.outcomes import LEDGER_SCHEMA
from gateway.settings import RouterSettings
from gateway.topics import Topics


@dataclass(frozen=True, slots=True)
class Reckoning:
    """The final account of one scenario; `line()` is what the suite prints."""

    scenario: str
    sent: int
    delivered_unique: int
    duplicates_at_stub: int
    dead_lettered: int
    lost: int

    def line(self) -> str:
        """`reckoning <scenario>: sent=N delivered_unique=N ... lost=N`."""
        return (f"reckoning {self.scenario}: sent={self.sent} "
                f"delivered_unique={self.delivered_unique} "
                f"duplicates_at_stub={self.duplicates_at_stub} "
                f"dead_lettered={self.dead_lettered} lost={self.lost}")


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """One record of the dead-letter topic, as a provincial IT officer would read it."""

    transaction_id: str | None
    stage: str
    exception_class: str
    exception_message: str
    offset: int

    @property
    def has_reason(self) -> bool:
        """Both Kafka Connect reason headers are present and not empty."""
        return bool(self.exception_class and self.exception_message and self.stage)


class TopicScan:
    """Reads topics incrementally: each `update` returns only the records new since the last.

    A fresh reader per update, so a broker restart between updates does no harm.
    """

    def __init__(self, bootstrap: str, topics: Iterable[str]) -> None:
        self.bootstrap = bootstrap
        self.topics = list(topics)
        self.next_offsets: dict[TopicPartition, int] = {}

    async def update(self) -> list[Record]:
        """Every record appended since the previous update (all of them the first time)."""
        reader = TopicReader(self.bootstrap, client_id="lgsp-fault-reckoning")
        await reader.start()
        found: list[Record] = []
        try:
            async for rec in reader.read(self.topics, start=dict(self.next_offsets)):
                found.append(rec)
                self.next_offsets[rec.tp] = rec.offset + 1
        finally:
            await reader.stop()
        return found


class StubJournal:
    """The stub's idempotency journal, read incrementally (complete lines only)."""

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / JOURNAL_NAME
        self._position = 0
        self.keys: set[str] = set()
        self.lines = 0

    def _read_new(self) -> None:
        try:
            with self.path.open("rb") as journal:
                journal.seek(self._position)
                chunk = journal.read()
        except FileNotFoundError:
            return
        end = chunk.rfind(b"\n") + 1
        for line in chunk[:end].splitlines():
            if line.strip():
                self.keys.add(str(orjson.loads(line)["key"]))
                self.lines += 1
        self._position += end

    async def update(self) -> set[str]:
        """Every key the stub has durably accepted so far."""
        await asyncio.to_thread(self._read_new)
        return self.keys


@dataclass(slots=True)
class Accounts:
    """Everything needed for a scenario's reckoning, refreshed from the real processes."""

    scenario: str
    bootstrap: str
    topics: Topics
    connectors: tuple[str, ...]
    stub_url: str
    stub_data_dir: Path
    stub_ca: Path | None = None
    """The CA that signed the stub's certificate when it serves https (`--tls`)."""
    expected: set[str] = field(default_factory=set)
    taken: set[str] = field(default_factory=set)
    copies: Counter[str] = field(default_factory=Counter)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    source_records: int = 0
    source_without_id: int = 0
    replayed: int = 0
    duplicates_at_stub: int = 0
    stub_stats: dict[str, object] = field(default_factory=dict)
    _sources: TopicScan | None = None
    _dead: TopicScan | None = None
    _replays: TopicScan | None = None
    _holds: TopicScan | None = None
    _journal: StubJournal | None = None
    held_ids: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self._sources = TopicScan(self.bootstrap,
                                  [self.topics.source(c) for c in self.connectors])
        self._dead = TopicScan(self.bootstrap, [self.topics.dead_letter])
        self._replays = TopicScan(self.bootstrap, [self.topics.replay])
        # The routed services' hold topics: where the router parks an outage's traffic.
        self._holds = TopicScan(self.bootstrap, [
            self.topics.hold(rule.service) for rule in RouterSettings().routes])
        self._journal = StubJournal(self.stub_data_dir)

    def expect(self, transaction_ids: Iterable[str]) -> None:
        """Transactions a provincial system (or the test itself) handed to the gateway."""
        self.expected.update(transaction_ids)

    @property
    def router_input_ends(self) -> dict[TopicPartition, int]:
        """Per partition the router reads (connector, hold and replay topics), the offset
        after the last record read: where the router's commits must reach once it is done."""
        assert self._sources is not None and self._replays is not None
        assert self._holds is not None
        return {**self._sources.next_offsets, **self._replays.next_offsets,
                **self._holds.next_offsets}

    @property
    def delivered_keys(self) -> set[str]:
        """Every Idempotency-Key the stub has recorded."""
        assert self._journal is not None
        return self._journal.keys

    async def refresh(self) -> None:
        """Read what is new on the connector topics, the dead letters, the stub."""
        assert self._sources is not None and self._dead is not None
        assert self._replays is not None
        for rec in await self._sources.update():
            self.source_records += 1
            tx = rec.header(H_TRANSACTION)
            if tx is None:
                self.source_without_id += 1
            else:
                self.taken.add(tx.decode())
                self.copies[tx.decode()] += 1
        for rec in await self._dead.update():
            self.dead_letters.append(_dead_letter(rec))
        self.replayed += len(await self._replays.update())
        assert self._holds is not None
        for rec in await self._holds.update():
            tx = rec.header(H_TRANSACTION)
            if tx is not None:
                self.held_ids.add(tx.decode())
        await self.refresh_stub()

    async def refresh_stub(self) -> None:
        """Read only the stub's side: its journal and its stats."""
        assert self._journal is not None
        await self._journal.update()
        self.stub_stats = await _stub_stats(self.stub_url, self.stub_ca)
        duplicates = self.stub_stats.get("duplicates", 0)
        assert isinstance(duplicates, int)
        self.duplicates_at_stub = duplicates

    @property
    def sent_ids(self) -> set[str]:
        """Distinct transactions handed to the gateway (see the module docstring)."""
        return self.expected | self.taken

    @property
    def dead_letter_ids(self) -> set[str]:
        """Distinct transaction ids in the dead-letter topic."""
        return {d.transaction_id for d in self.dead_letters if d.transaction_id}

    def lost_ids(self) -> set[str]:
        """Sent, not delivered and not in the dead-letter topic."""
        return self.sent_ids - self.delivered_keys - self.dead_letter_ids

    def phantom_ids(self) -> set[str]:
        """Delivered to the national side but never handed to the gateway (must be none)."""
        return self.delivered_keys - self.sent_ids

    def reckoning(self) -> Reckoning:
        """The scenario's account as of the last refresh."""
        sent = self.sent_ids
        delivered = sent & self.delivered_keys
        dead = (sent & self.dead_letter_ids) - delivered
        return Reckoning(self.scenario, len(sent), len(delivered), self.duplicates_at_stub,
                         len(dead), len(sent) - len(delivered) - len(dead))

    def dead_letters_without_reason(self) -> list[DeadLetter]:
        """Dead-letter records missing the exception class, message or stage."""
        return [d for d in self.dead_letters if not d.has_reason]


def _dead_letter(rec: Record) -> DeadLetter:
    def text(name: str) -> str:
        value = rec.header(name)
        return value.decode(errors="replace") if value is not None else ""

    tx = rec.header(H_TRANSACTION)
    return DeadLetter(tx.decode() if tx is not None else None, text(H_STAGE), text(H_EXCEPTION),
                      text(H_MESSAGE), rec.offset)


async def _stub_stats(url: str, ca: Path | None = None) -> dict[str, object]:
    timeout = aiohttp.ClientTimeout(total=10)
    tls = ssl.create_default_context(cafile=str(ca)) if ca is not None else True
    async with aiohttp.ClientSession(timeout=timeout) as session, session.get(
        f"{url}/ndxp/v1/stats", ssl=tls
    ) as resp:
        resp.raise_for_status()
        stats: dict[str, object] = await resp.json()
        return stats


async def router_caught_up(admin: KafkaAdmin, group: str, ends: dict[TopicPartition, int]
                           ) -> bool:
    """Whether the router group has committed every partition up to `ends`."""
    commits = await admin.group_offsets(group)
    return all(commits.get(tp, 0) >= end for tp, end in ends.items())


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """One outcome the router wrote to the ledger (the fields a diagnosis needs)."""

    transaction_id: str
    outcome: str
    duplicate_at_endpoint: bool
    source: str
    attempts: tuple[str, ...]


async def ledger_entries(bootstrap: str, topics: Topics, codec: Codec) -> list[LedgerEntry]:
    """Every outcome in the ledger topic, decoded with the ledger contract."""
    reader = TopicScan(bootstrap, [topics.ledger])
    schema = codec.registry.latest(LEDGER_SCHEMA)
    entries = []
    for rec in await reader.update():
        if rec.value is None:
            continue
        datum = codec.decode(rec.value, schema)
        entries.append(LedgerEntry(
            str(datum["transaction_id"]), str(datum["outcome"]),
            bool(datum["duplicate_at_endpoint"]),
            f"{datum['source_topic']}:{datum['source_partition']}@{datum['source_offset']}",
            tuple(str(a["result"]) for a in datum["attempt_log"]),
        ))
    return entries
