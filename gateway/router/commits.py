"""Offset commits, each declaring how far this owner may send (its send limit).

Offsets are committed only up to the first record whose outcome is not final
(`OffsetTracker`). Unless the hand-over is clean, each commit's metadata says
`running:<limit>`: nothing at or past the limit has been sent, so a later owner after a
crash looks up only [committed, limit). Workers that reach the limit wake the commit
loop, which raises it ahead of the dispatched records (`SendLeases`).
"""

from __future__ import annotations

__all__ = ["Committer"]

import asyncio
import contextlib

from gateway.errors import KafkaError
from gateway.kafka import GroupConsumer, TopicPartition
from gateway.logs import get_logger
from gateway.router.leases import CLEAN, SendLeases, running
from gateway.router.offsets import OffsetTracker

log = get_logger(__name__)

# Commits retry quickly while workers wait for a limit, without spinning on a dead broker.
_COMMIT_RETRY_S = 0.2

Partition = tuple[str, int]


class Committer:
    """Commits final offsets and send limits: periodically, on demand, and on hand-over."""

    def __init__(self, consumer: GroupConsumer, tracker: OffsetTracker, leases: SendLeases,
                 *, interval_s: float) -> None:
        self._consumer = consumer
        self._tracker = tracker
        self._leases = leases
        self._interval_s = interval_s

    async def commit(
        self, *, clean: bool = False, only: set[Partition] | None = None,
        everything: bool = False, raise_limits: bool = False,
    ) -> None:
        """Commit what advanced since the last commit, or `everything` tracked; `only` some.

        Unless `clean`, each partition's metadata declares its send limit; with
        `raise_limits` the limits move ahead of the dispatched records (and a partition
        whose limit moves is committed even if its offset did not).
        """
        tracker, leases = self._tracker, self._leases
        offsets = tracker.all_commit_points() if everything else tracker.committable()
        limits: dict[Partition, int] = {}
        if raise_limits:
            for tp, point in tracker.all_commit_points().items():
                proposal = leases.proposal(tp, tracker.highest(tp))
                if proposal > leases.declared(tp) or tp in offsets:
                    limits[tp] = proposal
                    offsets[tp] = point
        if only is not None:
            offsets = {tp: off for tp, off in offsets.items() if tp in only}
        if not offsets:
            return
        metadata = {
            TopicPartition(*tp): CLEAN if clean else running(limits.get(tp, leases.declared(tp)))
            for tp in offsets
        }
        await self._consumer.commit(
            {TopicPartition(t, p): off for (t, p), off in offsets.items()}, metadata
        )
        tracker.mark_committed(offsets)
        if limits:
            leases.landed({tp: limit for tp, limit in limits.items() if tp in offsets})

    async def run(self) -> None:
        """The commit loop: every interval, or at once when a worker waits for a limit."""
        wanted = self._leases.wanted
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wanted.wait(), self._interval_s)
            wanted.clear()
            try:
                await self.commit(raise_limits=True)
            except KafkaError as exc:
                log.warning("offset commit failed; will retry", error=str(exc))
                await asyncio.sleep(_COMMIT_RETRY_S)
