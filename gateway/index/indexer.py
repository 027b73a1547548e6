"""The indexer: follows the gateway's topics and writes them into the index in batches.

Positions live in the index, written in the same database transaction as the rows they
cover, so after any stop or crash the indexer resumes exactly where the index ends: it
seeks each assigned partition to the stored position (or the beginning when the index
has none, e.g. after it was dropped) and never relies on the group's committed offsets.
The consumer group only shares partitions out among replicas that write one database.
"""

from __future__ import annotations

__all__ = ["Indexer", "index_group"]

import asyncio
import socket
import time
from collections.abc import Sequence

from gateway.contracts import Codec
from gateway.errors import IndexStoreError, KafkaError
from gateway.index.model import Changes
from gateway.index.projection import Projector
from gateway.index.store import IndexRebuiltError, IndexStore
from gateway.kafka import GroupConsumer, Record, TopicPartition
from gateway.logs import get_logger
from gateway.metrics import INDEX_DELAY, INDEX_RECORDS, INDEX_WRITE_ERRORS
from gateway.settings import Settings
from gateway.topics import Topics

_log = get_logger(__name__)
_RETRY_MAX_S = 10.0


def index_group(settings: Settings, kind: str) -> str:
    """The indexer's consumer group: replicas on one PostgreSQL share it; a SQLite file
    belongs to one host, so each host reads every partition into its own file."""
    if settings.index.group_id:
        return settings.index.group_id
    base = f"{settings.topic_prefix.rstrip('.')}-index"
    return base if kind == "postgresql" else f"{base}-{socket.gethostname()}"


def topic_kind(topics: Topics, topic: str) -> str:
    """The metric label of a topic."""
    if topics.held_service(topic) is not None:
        return "hold"
    return {topics.ledger: "ledger", topics.dead_letter: "dead_letter",
            topics.replay: "replay", topics.replay_audit: "audit"}.get(topic, "source")


class Indexer:
    """An owned background task: poll, project, write a batch with its positions."""

    def __init__(self, settings: Settings, store: IndexStore, topics: Topics,
                 codec: Codec) -> None:
        self._store = store
        self._topics = topics
        self._projector = Projector(topics, codec)
        self._batch_size = settings.index.batch_size
        self._interval_s = settings.index.batch_interval_s
        self._consumer = GroupConsumer(
            settings.bootstrap_servers, group_id=index_group(settings, store.db.kind),
            pattern=self._projector.topic_pattern, rebalance=self,
            client_id="lgsp-indexer", max_poll_records=self._batch_size)
        self._task: asyncio.Task[None] | None = None
        self._generation = 0
        self._pending: list[Record] = []
        self._assigned: set[TopicPartition] = set()
        self._reseek = False
        self._unpositioned: set[TopicPartition] = set()

    async def start(self) -> None:
        """Join the group and start the task; partitions are positioned on assignment."""
        self._generation = await self._store.generation()
        await self._consumer.start()
        self._task = asyncio.create_task(self._run(), name="index-indexer")

    async def stop(self) -> None:
        """Cancel the task (a batch being written rolls back whole) and leave the group."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.wait({task})
            if not task.cancelled() and task.exception() is not None:
                _log.error("indexer had failed", exc_info=task.exception())
        await self._consumer.stop()

    def ready(self) -> bool:
        """Whether the task runs."""
        return self._task is not None and not self._task.done()

    # -- RebalanceHandler ------------------------------------------------------------------

    async def partitions_revoked(self, partitions: set[TopicPartition]) -> None:
        """Forget unwritten records of partitions leaving: their new owner re-reads them
        from the stored positions, which do not include them."""
        self._assigned -= partitions
        self._unpositioned -= partitions
        self._pending = [r for r in self._pending if r.tp not in partitions]

    async def partitions_assigned(self, partitions: set[TopicPartition]) -> None:
        """Note the new partitions; the loop positions them before it polls again.

        Not here: awaiting the store (and seeking) inside the rebalance callback left
        partitions unfetched now and then on a busy loop.
        """
        self._assigned |= partitions
        self._unpositioned |= partitions

    async def _position(self, partitions: set[TopicPartition]) -> None:
        self._generation = await self._store.generation()
        stored = await self._store.positions()
        owned = self._consumer.assignment()
        for tp in partitions & owned:
            # Offset 0 where the index has nothing: below the log start (retention), the
            # consumer's reset policy (earliest) moves it to the first retained record.
            self._consumer.seek(tp, stored.get(tp, 0))
        # Records fetched from elsewhere before the seek are dropped with the pending batch.
        self._pending = [r for r in self._pending if r.tp not in partitions]
        _log.info("index positioned", partitions=len(partitions & owned),
                  from_start=len([tp for tp in partitions & owned if tp not in stored]),
                  generation=self._generation)

    # -- the loop ------------------------------------------------------------------------

    async def _run(self) -> None:
        delay = 0.5
        while True:
            if self._reseek:
                self._pending.clear()
                self._unpositioned |= self._assigned
                self._reseek = False
            if self._unpositioned:
                todo, self._unpositioned = self._unpositioned, set()
                await self._position(todo)
            deadline = time.monotonic() + self._interval_s
            while len(self._pending) < self._batch_size:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._pending.extend(await self._consumer.poll(
                    left, max_records=self._batch_size - len(self._pending)))
                if self._unpositioned:
                    break
            if self._unpositioned or not self._pending:
                # New partitions first: what was fetched for them before they are
                # positioned (from the group's offsets) is dropped, never written.
                continue
            try:
                await self._write(self._pending)
            except IndexRebuiltError:
                _log.info("index emptied for a rebuild; reading the topics again")
                self._reseek = True
                continue
            except IndexStoreError as exc:
                INDEX_WRITE_ERRORS.inc()
                # The batch stays pending: nothing of it is in the index, and polling more
                # would only grow it. Kafka keeps the records meanwhile.
                _log.warning("index write failed; retrying", error=str(exc), retry_s=delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, _RETRY_MAX_S)
                continue
            delay = 0.5
            self._pending = []

    async def _write(self, records: Sequence[Record]) -> None:
        wanted = [r for r in records if self._projector.wanted(r.topic)]
        changes: Changes = self._projector.project(wanted)
        positions: dict[TopicPartition, int] = {}
        for r in records:
            positions[r.tp] = max(positions.get(r.tp, 0), r.offset + 1)
        await self._store.apply(changes, positions, self._generation)
        try:
            # For people and lag monitors only (kafka-consumer-groups shows the index's
            # lag): the index itself resumes from the positions it stores.
            await self._consumer.commit(positions)
        except KafkaError as exc:
            _log.warning("index group offsets not committed (positions are in the index)",
                         error=str(exc))
        _log.debug("index batch written", records=len(records))
        oldest = min(r.timestamp_ms for r in records)
        INDEX_DELAY.observe(max(0.0, time.time() - oldest / 1000))
        kinds: dict[str, int] = {}
        for r in records:
            kind = topic_kind(self._topics, r.topic)
            kinds[kind] = kinds.get(kind, 0) + 1
        for kind, n in kinds.items():
            INDEX_RECORDS.labels(kind=kind, result="indexed").inc(n)
        if changes.skipped:
            INDEX_RECORDS.labels(kind="any", result="skipped").inc(changes.skipped)


