"""Dropping the index and building it again from the topics (`lgsp index rebuild`).

The topics are the source of truth: the index is emptied (its generation moves on, so a
running gateway's indexer notices and starts over too) and every retained record of the
indexed topics is read and written in batches, positions included, so the gateway's
indexer continues from where the rebuild ended.
"""

from __future__ import annotations

__all__ = ["RebuildProgress", "rebuild"]

import re
import time
from collections.abc import Callable
from dataclasses import dataclass

from gateway.contracts import Codec
from gateway.index.projection import Projector
from gateway.index.store import IndexStore
from gateway.kafka import Record, TopicPartition, TopicReader
from gateway.logs import get_logger
from gateway.replay.scan import closing_records
from gateway.topics import Topics

_log = get_logger(__name__)


@dataclass(slots=True)
class RebuildProgress:
    """How far a rebuild is: records read of the total retained, and how fast."""

    total: int = 0
    done: int = 0
    transactions: int = 0
    seconds: float = 0.0

    @property
    def per_second(self) -> float:
        """Records written per second."""
        return self.done / self.seconds if self.seconds > 0 else 0.0


async def rebuild(store: IndexStore, bootstrap_servers: str, topics: Topics, codec: Codec, *,
                  batch_size: int = 5000,
                  on_progress: Callable[[RebuildProgress], None] | None = None
                  ) -> RebuildProgress:
    """Empty the index and write every retained record of the indexed topics into it."""
    projector = Projector(topics, codec)
    progress = RebuildProgress()
    began = time.perf_counter()
    reader = TopicReader(bootstrap_servers, client_id="lgsp-index-rebuild")
    await reader.start()
    try:
        pattern = re.compile(projector.topic_pattern)
        names = sorted(n for n in await reader.topics() if pattern.match(n))
        ends = await reader.end_offsets(names)
        begins = await reader.beginning_offsets(names)
        progress.total = sum(ends[tp] - begins.get(tp, 0) for tp in ends)
        generation = await store.drop()
        _log.info("index rebuild started", store=store.where, topics=len(names),
                  records=progress.total)
        if on_progress is not None:
            on_progress(progress)
        batch: list[Record] = []

        async def flush() -> None:
            positions: dict[TopicPartition, int] = {}
            for r in batch:
                positions[r.tp] = max(positions.get(r.tp, 0), r.offset + 1)
            await store.apply(projector.project(batch), positions, generation)
            progress.done += len(batch)
            progress.seconds = time.perf_counter() - began
            batch.clear()
            if on_progress is not None:
                on_progress(progress)

        async with closing_records(reader.read(names)) as records:
            async for rec in records:
                batch.append(rec)
                if len(batch) >= batch_size:
                    await flush()
        if batch:
            await flush()
        # Partitions read to their end (or empty) are complete up to the end offset.
        await store.apply(projector.project([]), ends, generation)
    finally:
        await reader.stop()
    progress.seconds = time.perf_counter() - began
    progress.transactions = await store.count()
    _log.info("index rebuilt", store=store.where, records=progress.done,
              transactions=progress.transactions, seconds=round(progress.seconds, 1))
    return progress
