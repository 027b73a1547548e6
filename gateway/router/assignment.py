"""Partition hand-overs: what to finish when partitions go, what to reconcile when they come.

Revoked: finish the partitions' in-flight work (bounded), commit it (`clean` if nothing
was left unfinished), forget their state. Assigned: keep them paused until the previous
owner's commit says how far it may have sent; records below that bound are looked up at
the national side before being sent (reconcile-before-resend).
"""

from __future__ import annotations

__all__ = ["Assignments"]

import asyncio
import contextlib

from gateway.errors import KafkaError
from gateway.kafka import GroupConsumer, KafkaAdmin, TopicPartition
from gateway.logs import get_logger
from gateway.router.commits import Committer
from gateway.router.dispatch import Dispatcher, log_if_died
from gateway.router.holds import Holds
from gateway.router.leases import SendLeases, parse_lease
from gateway.router.offsets import OffsetTracker

log = get_logger(__name__)

Partition = tuple[str, int]


class Assignments:
    """The consumer group's rebalance listener for the router; owns the settling task."""

    def __init__(
        self, *, group: str, consumer: GroupConsumer, admin: KafkaAdmin, tracker: OffsetTracker,
        leases: SendLeases, committer: Committer, drain_timeout_s: float,
    ) -> None:
        self._group = group
        self._consumer = consumer
        self._admin = admin
        self._tracker = tracker
        self._leases = leases
        self._committer = committer
        self._drain_timeout_s = drain_timeout_s
        self._reconcile_below: dict[Partition, int] = {}
        self._settling: asyncio.Task[None] | None = None
        self.dispatcher: Dispatcher | None = None
        self.holds: Holds | None = None

    def reconcile_first(self, tp: Partition, offset: int) -> bool:
        """Whether a previous owner may have sent this record unseen."""
        return offset < self._reconcile_below.get(tp, -1)

    async def partitions_revoked(self, partitions: set[TopicPartition]) -> None:
        """Finish (bounded) the revoked partitions' work and commit it before handing over."""
        if not partitions:
            return
        await self.cancel_settling()
        dispatcher = self._dispatcher()
        tps = {(tp.topic, tp.partition) for tp in partitions}
        # Parked records (held for a service still down) are not waited for: they stay
        # uncommitted and wait in Kafka for the next owner instead.
        finished = await dispatcher.wait_finished(
            lambda: self._tracker.outstanding_in(tps) == dispatcher.parked_in(tps),
            self._drain_timeout_s)
        clean = finished and dispatcher.parked_in(tps) == 0
        dispatcher.cancel_partitions(tps)
        if self.holds is not None:
            self.holds.revoked(partitions)
        try:
            # Every revoked partition's point, changed or not: the last periodic commit
            # says `running`, and left so the next owner would look up every record to
            # the end of the log before sending it.
            await self._committer.commit(clean=clean, only=tps, everything=True)
        except KafkaError as exc:
            log.warning("commit on revocation failed; the next owner will reconcile",
                        error=str(exc))
        self._tracker.forget(tps)
        self._leases.forget(tps)
        for tp in tps:
            self._reconcile_below.pop(tp, None)
        dispatcher.update_room()
        log.info("partitions revoked", partitions=sorted(f"{t}:{p}" for t, p in tps), clean=clean)

    async def partitions_assigned(self, partitions: set[TopicPartition]) -> None:
        """Hold new partitions paused until it is known which records to reconcile.

        aiokafka fetches a new partition while this callback still runs: unpaused, the
        first records would be sent before the reconcile bound is set (after a crash, one
        whole window sent twice). Pausing drops what was fetched and keeps the position, so
        nothing is skipped. The decision needs Kafka, so it runs in an owned task that
        retries until it succeeds, and the rebalance is not held up meanwhile.
        """
        if not partitions:
            return
        self._consumer.pause(partitions)
        await self.cancel_settling()
        self._settling = asyncio.create_task(self._settle(partitions), name="router-settle")
        self._settling.add_done_callback(log_if_died)

    async def cancel_settling(self) -> None:
        """Stop deciding (the partitions stay paused); on revocation and stop."""
        task, self._settling = self._settling, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def _dispatcher(self) -> Dispatcher:
        assert self.dispatcher is not None, "the router wires its dispatcher before starting"
        return self.dispatcher

    async def _settle(self, partitions: set[TopicPartition]) -> None:
        attempt = 0
        while True:
            try:
                await self._decide_reconciliation(partitions)
                break
            except KafkaError as exc:
                attempt += 1
                log.warning("cannot tell yet what to reconcile; partitions stay paused",
                            error=str(exc), attempt=attempt)
                await asyncio.sleep(min(5.0, 0.1 * 2 ** min(attempt, 6)))
        mine = partitions & self._consumer.assignment()
        self._consumer.resume(self.holds.resumable(mine) if self.holds is not None else mine)
        log.info("partitions assigned", partitions=sorted(f"{t}:{p}" for t, p in partitions))

    async def _decide_reconciliation(self, partitions: set[TopicPartition]) -> None:
        """Set the reconcile bound of each partition; raises KafkaError to be retried.

        The previous owner's commit says how far it may have sent (see leases): nothing
        (no commit), nothing unfinished (`clean`), or below a limit. A commit without a
        readable limit means anything up to today's end of the log.
        """
        commits = await self._admin.group_commits(self._group)
        ends = await self._consumer.end_offsets(partitions)
        for tp in partitions:
            committed = commits.get(tp)
            if committed is None:
                continue  # nobody sent from here before us
            lease = parse_lease(committed[1])
            if lease.clean:
                continue
            bound = lease.limit if lease.limit is not None else ends.get(tp, 0)
            key = (tp.topic, tp.partition)
            self._reconcile_below[key] = bound
            self._leases.inherit(key, bound)
