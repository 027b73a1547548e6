"""Per-key dispatch: records of one business key one at a time, different keys at once.

Records of one key share a partition, so a chain per (topic, partition, key) keeps their
order. A chain task forwards its records in turn, waits for the send limit where needed,
writes each outcome (or moves a held one to its hold topic), and marks it final for the
offset tracker. At most `max_in_flight` records are outstanding (consumed but not final);
`room` is clear while the window is full, and the consume loop waits on it.

A record read from a hold topic whose service is still unavailable is *parked*: its
chain waits for the service (the hold partitions are paused meanwhile, so only the few
already fetched wait in memory). Parked chains do not count against the window, so an
outage of one service never starves the others.
"""

from __future__ import annotations

__all__ = ["ChainKey", "Dispatcher"]

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Callable, Hashable

from gateway.kafka import Record
from gateway.logs import get_logger
from gateway.metrics import IN_FLIGHT
from gateway.router.forwarder import Abandoned, Forwarder
from gateway.router.leases import SendLeases
from gateway.router.offsets import OffsetTracker
from gateway.router.outcomes import STAGE_FORWARD, Failure, Outcome
from gateway.router.recorder import OutcomeWriter

log = get_logger(__name__)

ChainKey = tuple[str, int, Hashable]
Partition = tuple[str, int]


class Dispatcher:
    """Owns the chain tasks; tells how full the in-flight window is."""

    def __init__(
        self, *, forwarder: Forwarder, writer: OutcomeWriter, tracker: OffsetTracker,
        leases: SendLeases, max_in_flight: int,
        reconcile_first: Callable[[Partition, int], bool],
    ) -> None:
        self._forwarder = forwarder
        self._holds = forwarder.holds
        self._writer = writer
        self._tracker = tracker
        self._leases = leases
        self._max_in_flight = max_in_flight
        self._reconcile_first = reconcile_first
        self._chains: dict[ChainKey, deque[Record]] = {}
        self._tasks: dict[asyncio.Task[None], ChainKey] = {}
        # Parked chains and how many records each holds back; their total.
        self._parked: dict[ChainKey, int] = {}
        self._parked_total = 0
        self.room = asyncio.Event()
        self.room.set()
        # Set whenever a record's outcome becomes final; drains wait on it.
        self._progress = asyncio.Event()

    @property
    def free(self) -> int:
        """How many more records may be taken in now."""
        return self._max_in_flight - self._tracker.outstanding + self._parked_total

    def parked_in(self, partitions: set[Partition]) -> int:
        """Records held back by parked chains in some partitions."""
        return sum(n for key, n in self._parked.items() if (key[0], key[1]) in partitions)

    def dispatch(self, rec: Record) -> None:
        """Queue a consumed record behind its key's chain, starting the chain if idle."""
        self._tracker.add(rec.topic, rec.partition, rec.offset)
        key: ChainKey = (rec.topic, rec.partition, rec.key if rec.key is not None else rec.offset)
        queue = self._chains.get(key)
        if queue is not None:
            queue.append(rec)
            if key in self._parked:
                self._parked[key] += 1
                self._parked_total += 1
            return
        self._chains[key] = deque([rec])
        task = asyncio.create_task(self._run_chain(key))
        self._tasks[task] = key
        task.add_done_callback(self._forget_task)

    def update_room(self) -> None:
        """Open or close the window after records were taken in or finished."""
        outstanding = self._tracker.outstanding
        IN_FLIGHT.set(outstanding)
        if outstanding - self._parked_total < self._max_in_flight:
            self.room.set()
        else:
            self.room.clear()

    async def wait_chains(self, timeout_s: float) -> None:
        """Let running chains finish, up to `timeout_s`."""
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=timeout_s)

    async def wait_finished(self, done: Callable[[], bool], timeout_s: float) -> bool:
        """Wait until `done()` holds, re-checking each time an outcome becomes final."""
        deadline = time.monotonic() + timeout_s
        while not done():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            self._progress.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._progress.wait(), remaining)
        return True

    def cancel_partitions(self, partitions: set[Partition]) -> None:
        """Cancel the chains of revoked partitions (their records stay uncommitted)."""
        for task, key in list(self._tasks.items()):
            if (key[0], key[1]) in partitions:
                task.cancel()

    async def cancel_all(self) -> None:
        """Cancel every chain and wait for them."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def _forget_task(self, task: asyncio.Task[None]) -> None:
        self._tasks.pop(task, None)
        log_if_died(task)

    async def _run_chain(self, key: ChainKey) -> None:
        queue = self._chains[key]
        doubt = False  # a held record that may have been sent before it was parked
        try:
            while queue:
                rec = queue[0]
                tp = (rec.topic, rec.partition)
                if not self._leases.allows(tp, rec.offset):
                    await self._leases.wait_allowed(tp, rec.offset)
                try:
                    outcome = await self._forwarder.process(
                        rec, reconcile_first=doubt or self._reconcile_first(tp, rec.offset))
                    if outcome.held and self._holds.is_hold(rec.topic):
                        doubt = doubt or outcome.maybe_sent
                        await self._park(key, rec, outcome.service or "")
                        continue
                except Abandoned:
                    return
                except Exception as exc:  # a defect must dead-letter, not lose
                    # A defect of ours must not lose the record: it goes to the dead letters.
                    log.exception("unexpected error forwarding a record", topic=rec.topic,
                                  partition=rec.partition, offset=rec.offset)
                    outcome = Outcome(record=rec, connector=self._forwarder.connector_of(rec),
                                      transaction_id=None, service=None, delivered=False,
                                      failure=Failure(STAGE_FORWARD, exc, retriable=False))
                if outcome.held:
                    await self._writer.hold(outcome)
                else:
                    await self._writer.write(outcome)
                doubt = False
                queue.popleft()
                self._tracker.finish(rec.topic, rec.partition, rec.offset)
                self._progress.set()
                self.update_room()
        finally:
            if self._chains.get(key) is queue:
                del self._chains[key]

    async def _park(self, key: ChainKey, rec: Record, service: str) -> None:
        """Wait for an unavailable service with a held record, outside the window."""
        queue = self._chains[key]
        self._parked[key] = len(queue)
        self._parked_total += len(queue)
        self._holds.parked(service, rec.offset, self._holds.since_ms(rec))
        self.update_room()
        try:
            await self._forwarder.wait_for_service(service, self._holds.remaining_s(rec))
        finally:
            self._parked_total -= self._parked.pop(key, 0)
            self._holds.unparked(service, rec.offset)
            self.update_room()


def log_if_died(task: asyncio.Task[None]) -> None:
    """Log a router task that ended with an exception: they handle every expected error."""
    if not task.cancelled() and task.exception() is not None:
        log.error("router task died", task=task.get_name(), error=repr(task.exception()))
