"""The router service: consume every connector topic, forward, record outcomes, commit.

Concurrency: records run concurrently across partitions and business keys, one at a
time per business key (records of one key share a partition, so this keeps their
order). At most `max_in_flight` records are outstanding (consumed but not committable);
fetching waits while the window is full.

Offsets: committed only up to the first record whose outcome is not yet final
(delivered or dead-lettered, and written to the ledger/dead-letter topic), so a crash
loses nothing. Each commit also declares how far this owner may send (see leases), and
a clean stop writes `clean`; a new owner asks the national side about the records the
previous one may have sent before sending them, so a crash does not make the endpoint
see a transaction twice. A new partition stays paused until that is decided.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Callable, Hashable

from gateway.backoff import Backoff
from gateway.contracts import Codec
from gateway.errors import KafkaError
from gateway.kafka import GroupConsumer, KafkaAdmin, Producer, Record, TopicPartition
from gateway.logs import get_logger
from gateway.metrics import (
    CONSUMER_LAG,
    DEAD_LETTERED,
    IN_FLIGHT,
    OUTCOME_DEAD_LETTERED,
)
from gateway.router.forwarder import Abandoned, Forwarder, NationalExchange
from gateway.router.leases import CLEAN, SendLeases, parse_lease, running
from gateway.router.offsets import OffsetTracker
from gateway.router.outcomes import (
    LEDGER_SCHEMA,
    STAGE_FORWARD,
    Failure,
    Outcome,
    dead_letter_headers,
    encode_ledger,
)
from gateway.router.routing import RoutingTable
from gateway.settings import Settings, router_group
from gateway.topics import Topics

log = get_logger(__name__)

# Commits retry quickly while workers wait for a limit, without spinning on a dead broker.
_COMMIT_RETRY_S = 0.2

ChainKey = tuple[str, int, Hashable]


class Router:
    """Moves transactions from connector topics to national services; owns its tasks."""

    def __init__(
        self,
        settings: Settings,
        *,
        codec: Codec,
        producer: Producer,
        exchange: NationalExchange,
        topics: Topics | None = None,
    ) -> None:
        self._settings = settings
        self._cfg = settings.router
        self._group = router_group(settings)
        self._topics = topics or Topics(settings.topic_prefix)
        self._codec = codec
        self._producer = producer
        self._ledger_schema = codec.registry.latest(LEDGER_SCHEMA)
        self._stopping = asyncio.Event()
        self.forwarder = Forwarder(
            stopping=self._stopping,
            codec=codec,
            routes=RoutingTable(self._cfg.routes),
            exchange=exchange,
            topics=self._topics,
            backoff=Backoff(self._cfg.backoff_initial_s, self._cfg.backoff_max_s),
            max_attempts=self._cfg.max_attempts,
            breaker_threshold=self._cfg.breaker_failure_threshold,
            breaker_reset_s=self._cfg.breaker_reset_s,
            remembered_deliveries=self._cfg.remembered_deliveries,
        )
        self._consumer = GroupConsumer(
            settings.bootstrap_servers,
            group_id=self._group,
            pattern=self._topics.router_pattern,
            rebalance=self,
            client_id="lgsp-router",
        )
        self._admin = KafkaAdmin(settings.bootstrap_servers, client_id="lgsp-router-admin")
        self._tracker = OffsetTracker()
        # Two windows ahead: a worker rarely has to wait for a commit to send.
        self._leases = SendLeases(headroom=2 * self._cfg.max_in_flight)
        self._chains: dict[ChainKey, deque[Record]] = {}
        self._chain_tasks: dict[asyncio.Task[None], ChainKey] = {}
        self._loops: list[asyncio.Task[None]] = []
        self._room = asyncio.Event()
        self._room.set()
        # Set whenever a record's outcome becomes final; drain waits on it.
        self._progress = asyncio.Event()
        self._reconcile_below: dict[tuple[str, int], int] = {}
        self._settling: asyncio.Task[None] | None = None
        self._last_poll_ok = 0.0
        self._started = False

    # -- lifecycle ---------------------------------------------------------------------

    async def start(self) -> None:
        """Join the consumer group and start consuming."""
        await self._admin.start()
        try:
            await self._consumer.start()
        except BaseException:
            await self._admin.stop()
            raise
        self._started = True
        self._last_poll_ok = time.monotonic()
        self._loops = [
            asyncio.create_task(self._consume_loop(), name="router-consume"),
            asyncio.create_task(self._commit_loop(), name="router-commit"),
            asyncio.create_task(self._lag_loop(), name="router-lag"),
        ]
        log.info("router started", group=self._group, pattern=self._topics.router_pattern)

    async def stop(self) -> None:
        """Stop fetching, let in-flight transactions finish (bounded), commit, leave."""
        if not self._started:
            return
        self._started = False
        consume = self._loops[0]
        consume.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await consume
        await self._cancel_settling()
        # Requests already on the wire may finish; records waiting to retry are left
        # uncommitted for the next owner.
        self._stopping.set()
        if self._chain_tasks:
            await asyncio.wait(list(self._chain_tasks), timeout=self._cfg.drain_timeout_s)
        await self._cancel_chains()
        drained = self._tracker.outstanding == 0
        for task in self._loops[1:]:
            task.cancel()
        for task in self._loops[1:]:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._loops = []
        try:
            await self._commit(clean=drained, everything=True)
        except KafkaError as exc:
            log.warning("final offset commit failed; records will be reconciled on restart",
                        error=str(exc))
        await self._consumer.stop()
        await self._admin.stop()
        log.info("router stopped", drained=drained)

    def owned_partitions(self) -> set[TopicPartition]:
        """The partitions this router's group member owns now."""
        return self._consumer.assignment()

    def ready(self) -> bool:
        """Joined and polling: the last successful poll is recent."""
        return self._started and time.monotonic() - self._last_poll_ok < 30

    async def _wait_finished(self, done: Callable[[], bool], timeout_s: float) -> bool:
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

    async def _cancel_chains(self) -> None:
        tasks = list(self._chain_tasks)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # -- consumer group ----------------------------------------------------------------

    async def partitions_revoked(self, partitions: set[TopicPartition]) -> None:
        """Finish (bounded) the revoked partitions' work and commit it before handing over."""
        if not partitions:
            return
        await self._cancel_settling()
        tps = {(tp.topic, tp.partition) for tp in partitions}
        clean = await self._wait_finished(lambda: self._tracker.outstanding_in(tps) == 0,
                                          self._cfg.drain_timeout_s)
        for task, key in list(self._chain_tasks.items()):
            if (key[0], key[1]) in tps:
                task.cancel()
        try:
            # Every revoked partition's point, changed or not: the last periodic commit
            # says `running`, and left so the next owner would look up every record to
            # the end of the log before sending it.
            await self._commit(clean=clean, only=tps, everything=True)
        except KafkaError as exc:
            log.warning("commit on revocation failed; the next owner will reconcile",
                        error=str(exc))
        self._tracker.forget(tps)
        self._leases.forget(tps)
        for tp in tps:
            self._reconcile_below.pop(tp, None)
        self._update_room()
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
        await self._cancel_settling()
        self._settling = asyncio.create_task(self._settle(partitions), name="router-settle")
        self._settling.add_done_callback(_log_if_died)

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
        self._consumer.resume(partitions & self._consumer.assignment())
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

    async def _cancel_settling(self) -> None:
        task, self._settling = self._settling, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # -- consuming and dispatching -------------------------------------------------------

    async def _consume_loop(self) -> None:
        while True:
            await self._room.wait()
            room = self._cfg.max_in_flight - self._tracker.outstanding
            try:
                records = await self._consumer.poll(0.2, max_records=max(1, min(500, room)))
            except KafkaError as exc:
                log.warning("consume failed; retrying", error=str(exc))
                await asyncio.sleep(1.0)
                continue
            self._last_poll_ok = time.monotonic()
            for rec in records:
                self._dispatch(rec)
            self._update_room()

    def _dispatch(self, rec: Record) -> None:
        self._tracker.add(rec.topic, rec.partition, rec.offset)
        key: ChainKey = (rec.topic, rec.partition, rec.key if rec.key is not None else rec.offset)
        queue = self._chains.get(key)
        if queue is not None:
            queue.append(rec)
            return
        self._chains[key] = deque([rec])
        task = asyncio.create_task(self._run_chain(key))
        self._chain_tasks[task] = key
        task.add_done_callback(self._forget_chain_task)

    def _forget_chain_task(self, task: asyncio.Task[None]) -> None:
        self._chain_tasks.pop(task, None)
        _log_if_died(task)

    def _update_room(self) -> None:
        outstanding = self._tracker.outstanding
        IN_FLIGHT.set(outstanding)
        if outstanding < self._cfg.max_in_flight:
            self._room.set()
        else:
            self._room.clear()

    async def _run_chain(self, key: ChainKey) -> None:
        queue = self._chains[key]
        try:
            while queue:
                rec = queue[0]
                tp = (rec.topic, rec.partition)
                if not self._leases.allows(tp, rec.offset):
                    await self._leases.wait_allowed(tp, rec.offset)
                reconcile = rec.offset < self._reconcile_below.get(tp, -1)
                try:
                    outcome = await self.forwarder.process(rec, reconcile_first=reconcile)
                except Abandoned:
                    return
                except Exception as exc:  # a defect must dead-letter, not lose
                    # A defect of ours must not lose the record: it goes to the dead letters.
                    log.exception("unexpected error forwarding a record", topic=rec.topic,
                                  partition=rec.partition, offset=rec.offset)
                    outcome = Outcome(record=rec, connector=self.forwarder.connector_of(rec),
                                      transaction_id=None, service=None, delivered=False,
                                      failure=Failure(STAGE_FORWARD, exc, retriable=False))
                await self._record(outcome)
                queue.popleft()
                self._tracker.finish(rec.topic, rec.partition, rec.offset)
                self._progress.set()
                self._update_room()
        finally:
            if self._chains.get(key) is queue:
                del self._chains[key]

    # -- outcomes ------------------------------------------------------------------------

    async def _record(self, outcome: Outcome) -> None:
        """Write the outcome durably (retrying while Kafka is unavailable), then count it."""
        ledger_value = encode_ledger(self._codec, self._ledger_schema, outcome)
        key = (outcome.transaction_id or "").encode() or None
        attempt = 0
        while True:
            try:
                if outcome.failure is None:
                    # The common case awaits its one acknowledgement directly: a gather
                    # costs more than the rest of this method.
                    ack = await self._producer.send(self._topics.ledger, ledger_value, key=key)
                    await ack
                else:
                    acks = [
                        await self._producer.send(
                            self._topics.dead_letter, outcome.record.value,
                            key=outcome.record.key, headers=dead_letter_headers(outcome)),
                        await self._producer.send(self._topics.ledger, ledger_value, key=key),
                    ]
                    await asyncio.gather(*acks)
                break
            except KafkaError as exc:
                attempt += 1
                log.warning("writing outcome failed; retrying", error=str(exc), attempt=attempt,
                            transaction_id=outcome.transaction_id)
                await asyncio.sleep(min(5.0, 0.2 * 2 ** min(attempt, 5)))
        service = outcome.service or "unknown"
        meters = self.forwarder.meters
        if outcome.delivered:
            meters.delivered(outcome.connector, service).inc()
            latency = outcome.latency_ms
            if latency is not None:
                meters.end_to_end(outcome.connector, service).observe(latency / 1000)
        else:
            assert outcome.failure is not None
            reason = type(outcome.failure.error).__name__
            meters.transactions(outcome.connector, service, OUTCOME_DEAD_LETTERED).inc()
            DEAD_LETTERED.labels(outcome.connector, service, reason).inc()
            log.warning("transaction dead-lettered", transaction_id=outcome.transaction_id,
                        correlation_id=outcome.correlation_id, connector=outcome.connector,
                        service=outcome.service, reason=reason,
                        error=str(outcome.failure.error), attempts=len(outcome.attempts))

    # -- commits and lag -----------------------------------------------------------------

    async def _commit(
        self, *, clean: bool = False, only: set[tuple[str, int]] | None = None,
        everything: bool = False, raise_limits: bool = False,
    ) -> None:
        """Commit what advanced since the last commit, or `everything` tracked; `only` some.

        Unless `clean`, each partition's metadata declares its send limit; with
        `raise_limits` the limits move ahead of the dispatched records (and a partition
        whose limit moves is committed even if its offset did not).
        """
        tracker, leases = self._tracker, self._leases
        offsets = tracker.all_commit_points() if everything else tracker.committable()
        limits: dict[tuple[str, int], int] = {}
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

    async def _commit_loop(self) -> None:
        wanted = self._leases.wanted
        while True:
            # Every interval, or at once when a worker waits for a higher limit.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wanted.wait(), self._cfg.commit_interval_s)
            wanted.clear()
            try:
                await self._commit(raise_limits=True)
            except KafkaError as exc:
                log.warning("offset commit failed; will retry", error=str(exc))
                await asyncio.sleep(_COMMIT_RETRY_S)

    async def _lag_loop(self) -> None:
        while True:
            for tp in self._consumer.assignment():
                high = self._consumer.highwater(tp)
                if high is None:
                    continue
                done = self._tracker.commit_point((tp.topic, tp.partition))
                if done is None:
                    try:
                        done = await self._consumer.position(tp)
                    except KafkaError:
                        continue
                CONSUMER_LAG.labels(tp.topic, str(tp.partition)).set(max(0, high - done))
            await asyncio.sleep(self._cfg.lag_interval_s)


def _log_if_died(task: asyncio.Task[None]) -> None:
    # Router tasks handle every expected error themselves; reaching here is a defect.
    if not task.cancelled() and task.exception() is not None:
        log.error("router task died", task=task.get_name(), error=repr(task.exception()))
