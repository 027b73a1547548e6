"""Which offsets are safe to commit: only up to the first record whose outcome is not final."""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field


@dataclass(slots=True)
class PartitionOffsets:
    """Offsets of one partition handed to workers, and which of them are finished.

    Records finish out of order (different business keys run concurrently); the commit
    point only advances over a gap-free prefix of finished records.
    """

    next_commit: int | None = None
    highest: int = -1
    _pending: list[int] = field(default_factory=list)
    _done: set[int] = field(default_factory=set)

    def add(self, offset: int) -> None:
        """A record was consumed and dispatched."""
        if self.next_commit is None:
            self.next_commit = offset
        self.highest = max(self.highest, offset)
        heapq.heappush(self._pending, offset)

    def finish(self, offset: int) -> None:
        """A record's outcome is final (delivered or dead-lettered and recorded)."""
        self._done.add(offset)
        pending = self._pending
        while pending and pending[0] in self._done:
            finished = heapq.heappop(pending)
            self._done.discard(finished)
            self.next_commit = finished + 1

    @property
    def outstanding(self) -> int:
        """Records dispatched whose offset cannot be committed yet."""
        return len(self._pending)


class OffsetTracker:
    """PartitionOffsets for every partition the router owns."""

    def __init__(self) -> None:
        self._partitions: dict[tuple[str, int], PartitionOffsets] = {}
        self._committed: dict[tuple[str, int], int] = {}

    def add(self, topic: str, partition: int, offset: int) -> None:
        """Track a dispatched record."""
        tp = (topic, partition)
        part = self._partitions.get(tp)
        if part is None:
            part = self._partitions[tp] = PartitionOffsets()
        part.add(offset)

    def finish(self, topic: str, partition: int, offset: int) -> None:
        """Mark a record's outcome final."""
        part = self._partitions.get((topic, partition))
        if part is not None:  # the partition may have been revoked meanwhile
            part.finish(offset)

    def committable(self) -> dict[tuple[str, int], int]:
        """Offsets that advanced since the last `mark_committed`."""
        return {
            tp: part.next_commit
            for tp, part in self._partitions.items()
            if part.next_commit is not None and part.next_commit != self._committed.get(tp)
        }

    def all_commit_points(self) -> dict[tuple[str, int], int]:
        """The commit point of every tracked partition (for a final commit)."""
        return {
            tp: p.next_commit for tp, p in self._partitions.items() if p.next_commit is not None
        }

    def highest(self, tp: tuple[str, int]) -> int:
        """The highest offset dispatched in a partition (-1 if none)."""
        part = self._partitions.get(tp)
        return part.highest if part is not None else -1

    def commit_point(self, tp: tuple[str, int]) -> int | None:
        """The next offset to commit for a partition, if any record was seen."""
        part = self._partitions.get(tp)
        return part.next_commit if part is not None else None

    def mark_committed(self, offsets: dict[tuple[str, int], int]) -> None:
        """Remember what was committed, so it is not committed again."""
        self._committed.update(offsets)

    def forget(self, partitions: set[tuple[str, int]]) -> None:
        """Drop revoked partitions."""
        for tp in partitions:
            self._partitions.pop(tp, None)
            self._committed.pop(tp, None)

    @property
    def outstanding(self) -> int:
        """Records dispatched and not yet committable, over all partitions."""
        return sum(p.outstanding for p in self._partitions.values())

    def outstanding_in(self, partitions: set[tuple[str, int]]) -> int:
        """Outstanding records in some partitions."""
        return sum(p.outstanding for tp, p in self._partitions.items() if tp in partitions)
