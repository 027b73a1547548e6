"""How far into each owned partition the router may send: declared in Kafka first.

With every offset commit an owner writes, as the commit's metadata, the offset below
which it may have sent records (`running:<limit>`), and it sends a record only once a
limit above that record's offset has been committed. A clean hand-over writes `clean`
instead. So after a crash the next owner knows exactly which records the dead one may
have sent, [committed offset, limit), and asks the national side about those alone
instead of about everything up to the end of the log. No commit at all means nobody
ever sent from the partition.

The limit runs `headroom` records ahead of the highest record handed to a worker;
a worker that reaches it asks for an early commit and waits for it to land.
"""

from __future__ import annotations

__all__ = ["CLEAN", "Lease", "SendLeases", "parse_lease", "running"]

import asyncio
from dataclasses import dataclass

CLEAN = "clean"
_RUNNING = "running"
_SEPARATOR = ":"

PartitionKey = tuple[str, int]


def running(limit: int) -> str:
    """Commit metadata of an owner that may have sent every record below `limit`."""
    return f"{_RUNNING}{_SEPARATOR}{limit}"


@dataclass(frozen=True, slots=True)
class Lease:
    """What a committed metadata string says about the owner that wrote it."""

    clean: bool
    limit: int | None
    """Nothing at or past this offset was sent; None: unknown (anything may have been)."""


def parse_lease(metadata: str) -> Lease:
    """Read a commit's metadata; anything unrecognised is taken as the worst case."""
    if metadata == CLEAN:
        return Lease(clean=True, limit=None)
    kind, _, limit = metadata.partition(_SEPARATOR)
    if kind == _RUNNING and limit.isdigit():
        return Lease(clean=False, limit=int(limit))
    return Lease(clean=False, limit=None)


class SendLeases:
    """The limits this owner has committed, and workers waiting for higher ones."""

    def __init__(self, headroom: int) -> None:
        self._headroom = headroom
        self._limits: dict[PartitionKey, int] = {}
        self._floors: dict[PartitionKey, int] = {}
        self._raised = asyncio.Event()
        self.wanted = asyncio.Event()
        """Set when a worker waits at a limit: the commit loop should commit now."""

    def allows(self, tp: PartitionKey, offset: int) -> bool:
        """Whether a record may be sent: a committed limit lies above it."""
        return offset < self._limits.get(tp, 0)

    async def wait_allowed(self, tp: PartitionKey, offset: int) -> None:
        """Wait until a commit declares a limit above `offset` (cancel to give up)."""
        while not self.allows(tp, offset):
            self.wanted.set()
            self._raised.clear()
            await self._raised.wait()

    def inherit(self, tp: PartitionKey, floor: int) -> None:
        """The previous owner may have sent below `floor`: never declare less than that,
        or the owner after us would skip records nobody has reconciled yet."""
        self._floors[tp] = floor

    def proposal(self, tp: PartitionKey, highest_dispatched: int) -> int:
        """The limit to commit next for a partition whose workers hold records up to
        `highest_dispatched`."""
        return max(self._limits.get(tp, 0), self._floors.get(tp, 0),
                   highest_dispatched + 1 + self._headroom)

    def declared(self, tp: PartitionKey) -> int:
        """The limit committed last (or inherited): what an unclean hand-over must say."""
        return max(self._limits.get(tp, 0), self._floors.get(tp, 0))

    def landed(self, limits: dict[PartitionKey, int]) -> None:
        """These limits are committed: wake the workers waiting for them."""
        self._limits.update(limits)
        self._raised.set()

    def forget(self, partitions: set[PartitionKey]) -> None:
        """Drop revoked partitions."""
        for tp in partitions:
            self._limits.pop(tp, None)
            self._floors.pop(tp, None)
