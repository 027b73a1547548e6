"""Records handed to Kafka in file order, and how far the checkpoint may advance.

The promise a checkpoint keeps (so a resume publishes nothing twice):

- every record with an ordinal up to `done_through` was acknowledged by Kafka (or
  rejected, or found already published);
- every record of this import published with a larger ordinal lies, in its partition, at
  or after `offsets[partition]`, or its id is in `pending`.

Why the offsets can advance: the producer is idempotent and sends in file order, so in
one partition this run's records sit in ordinal order. After the last acknowledged
record up to `done_through` in a partition, only records beyond `done_through` follow
(this run's, or an earlier run's that a resume found and keeps in `pending` until the
window has passed them).
"""

from __future__ import annotations

__all__ = ["AckWindow"]

import asyncio
from collections import deque
from typing import NamedTuple

from gateway.importer.checkpoint import Checkpoint
from gateway.kafka import DeliveryReport

_PUBLISHED, _REJECTED, _SKIPPED = 0, 1, 2


class _Entry(NamedTuple):
    ordinal: int
    kind: int
    ack: asyncio.Future[DeliveryReport] | None
    transaction_id: str
    rejects_size: int


class AckWindow:
    """The in-order window of records sent, rejected or skipped since the checkpoint."""

    def __init__(self, checkpoint: Checkpoint, skip: set[str]) -> None:
        self.checkpoint = checkpoint
        self.skip = skip
        """Ids found on the topic beyond the checkpoint: never published again."""
        self._entries: deque[_Entry] = deque()

    def __len__(self) -> int:
        return len(self._entries)

    def sent(self, ordinal: int, transaction_id: str, ack: asyncio.Future[DeliveryReport]
             ) -> None:
        """A record handed to the producer; `ack` resolves when Kafka stored it."""
        self._entries.append(_Entry(ordinal, _PUBLISHED, ack, transaction_id, 0))

    def rejected(self, ordinal: int, rejects_size: int) -> None:
        """A record written to the rejected file, which is now `rejects_size` bytes long."""
        self._entries.append(_Entry(ordinal, _REJECTED, None, "", rejects_size))

    def skipped(self, ordinal: int, transaction_id: str) -> None:
        """A record already on the topic (found by the resume's read-back)."""
        self._entries.append(_Entry(ordinal, _SKIPPED, None, transaction_id, 0))

    def advance(self) -> None:
        """Move the checkpoint over every leading entry that is settled.

        Raises the KafkaError of a record Kafka refused; the checkpoint stays before it.
        """
        cp = self.checkpoint
        entries = self._entries
        while entries:
            entry = entries[0]
            if entry.kind == _PUBLISHED:
                ack = entry.ack
                assert ack is not None
                if not ack.done():
                    return
                report = ack.result()  # raises a KafkaError: checkpoint stays before it
                cp.offsets[report.partition] = report.offset + 1
                cp.published += 1
            elif entry.kind == _REJECTED:
                cp.rejected += 1
                cp.rejected_bytes = entry.rejects_size
            else:
                cp.skipped += 1
                self.skip.discard(entry.transaction_id)
            cp.done_through = entry.ordinal
            entries.popleft()

    async def wait_oldest(self) -> None:
        """Wait for the oldest outstanding acknowledgement, then advance."""
        for entry in self._entries:
            if entry.ack is not None and not entry.ack.done():
                await asyncio.wait([entry.ack])
                break
        self.advance()

    async def drain(self) -> None:
        """Wait for every acknowledgement (the first refusal raises) and advance."""
        while self._entries:
            await self.wait_oldest()

    def abandon(self) -> None:
        """Stop waiting: acknowledgements still due are dropped, their errors retrieved."""
        for entry in self._entries:
            if entry.ack is not None:
                if entry.ack.done():
                    if not entry.ack.cancelled():
                        entry.ack.exception()
                else:
                    entry.ack.cancel()
        self._entries.clear()

    def freeze(self) -> Checkpoint:
        """The checkpoint as it may be saved now (pending = ids found and not yet passed)."""
        self.checkpoint.pending = sorted(self.skip)
        return self.checkpoint
