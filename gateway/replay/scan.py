"""Streaming scans of whole topics: one record at a time, nothing kept by the scan itself.

Each scan opens its own group-less `TopicReader` (a reader can serve one scan at a
time) and closes it when the iteration ends, also when the caller stops early.
"""

from __future__ import annotations

__all__ = ["ScanStats", "closing_records", "scan", "scan_all"]

import asyncio
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, aclosing
from dataclasses import dataclass

from gateway.kafka import Record, TopicPartition, TopicReader
from gateway.logs import get_logger

_log = get_logger(__name__)
# A scan in the gateway process shares the event loop with the router: hand it the loop
# this often, as one fetched batch can hold tens of thousands of records.
_YIELD_EVERY = 2000


@dataclass(slots=True)
class ScanStats:
    """How much a scan read and how long it took (logged, and shown by `--verbose`)."""

    topics: tuple[str, ...]
    records: int = 0
    seconds: float = 0.0

    @property
    def per_second(self) -> float:
        """Records read per second."""
        return self.records / self.seconds if self.seconds > 0 else 0.0


def closing_records(
    records: AsyncIterator[Record],
) -> AbstractAsyncContextManager[AsyncGenerator[Record, None]]:
    """`aclosing` for `TopicReader.read`, typed as the async generator it is.

    Closing at once matters: a scan left half-iterated keeps its partitions assigned
    until garbage collection.
    """
    if not isinstance(records, AsyncGenerator):
        raise TypeError("expected an async generator of records")
    return aclosing(records)


async def scan(
    bootstrap_servers: str,
    topics: Sequence[str],
    *,
    start: dict[TopicPartition, int] | None = None,
    stats: ScanStats | None = None,
    client_id: str = "lgsp-replay-scan",
) -> AsyncGenerator[Record, None]:
    """Every record of `topics` from `start` (default: the beginning) to today's end.

    Use with `contextlib.aclosing` when stopping early, so the reader closes at once.
    """
    stats = stats if stats is not None else ScanStats(tuple(topics))
    reader = TopicReader(bootstrap_servers, client_id=client_id)
    await reader.start()
    began = time.perf_counter()
    try:
        async with closing_records(reader.read(topics, start=start)) as records:
            async for rec in records:
                stats.records += 1
                yield rec
                if stats.records % _YIELD_EVERY == 0:
                    await asyncio.sleep(0)
    finally:
        stats.seconds = time.perf_counter() - began
        await reader.stop()
        _log.debug("scan finished", topics=list(topics), records=stats.records,
                   seconds=round(stats.seconds, 3))


async def scan_all(
    bootstrap_servers: str,
    topics: Sequence[str],
    visit: Callable[[Record], None],
    *,
    start: dict[TopicPartition, int] | None = None,
) -> ScanStats:
    """Call `visit` for every record of `topics`; returns what was read."""
    stats = ScanStats(tuple(topics))
    async for rec in scan(bootstrap_servers, topics, start=start, stats=stats):
        visit(rec)
    return stats
