"""The router service: consume every connector topic, forward, record outcomes, commit.

One transaction's way through the parts, each in its own module:

- consumed here, taken in while the in-flight window has room (`max_in_flight`);
- `dispatch`: queued behind its business key (one at a time per key, keys at once);
- `forwarder`: decoded, routed, sent with retries, breaker and reconcile-before-resend;
- `batching`: for a service that takes batches, gathered with others into one request;
- `availability` and `holds`: while its service is unavailable, moved to the service's
  hold topic instead, to flow again by itself when the service answers;
- `recorder`: its final outcome written durably (ledger, dead letter), then counted;
- `commits`: offsets committed only up to the first record not yet final, each commit
  declaring how far this owner may send (`leases`), `clean` on a clean stop;
- `assignment`: on a hand-over, revoked partitions are finished and committed, new ones
  stay paused until it is known which records the previous owner may have sent.
"""

from __future__ import annotations

__all__ = ["Router"]

import asyncio
import contextlib
import time

from gateway.backoff import Backoff
from gateway.contracts import Codec
from gateway.errors import KafkaError
from gateway.kafka import GroupConsumer, KafkaAdmin, Producer, TopicPartition
from gateway.logs import get_logger
from gateway.ndxp.catalogue import catalogue_from
from gateway.router.assignment import Assignments
from gateway.router.availability import ServiceAvailability
from gateway.router.batching import BatchClient, BatchingExchange, batched_services
from gateway.router.commits import Committer
from gateway.router.dispatch import Dispatcher
from gateway.router.exchange import NationalExchange
from gateway.router.forwarder import Forwarder
from gateway.router.holds import Holds
from gateway.router.lag import report_lag
from gateway.router.leases import SendLeases
from gateway.router.meters import RouterMeters
from gateway.router.offsets import OffsetTracker
from gateway.router.recorder import OutcomeWriter
from gateway.router.routing import RoutingTable
from gateway.settings import Settings, router_group
from gateway.topics import Topics

log = get_logger(__name__)


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
        cfg = self._cfg = settings.router
        self._group = router_group(settings)
        self._topics = topics or Topics(settings.topic_prefix)
        self._stopping = asyncio.Event()
        self._consumer = GroupConsumer(
            settings.bootstrap_servers,
            group_id=self._group,
            pattern=self._topics.router_pattern,
            rebalance=self,
            client_id="lgsp-router",
        )
        self._admin = KafkaAdmin(settings.bootstrap_servers, client_id="lgsp-router-admin")
        self.availability = ServiceAvailability(
            exchange=exchange, threshold=cfg.breaker_failure_threshold,
            reset_s=cfg.breaker_reset_s, reset_max_s=cfg.breaker_reset_max_s)
        self.holds = Holds(topics=self._topics, availability=self.availability,
                           hold_max_s=cfg.hold_max_s, consumer=self._consumer,
                           admin=self._admin, group=self._group, enabled=cfg.hold_enabled)
        self.availability.listen(self.holds.on_change)
        meters = RouterMeters()
        self._batching: BatchingExchange | None = None
        window = cfg.max_in_flight
        lanes = batched_services(cfg.batching, catalogue_from(settings.catalogue))
        if isinstance(exchange, BatchClient) and lanes:
            self._batching = BatchingExchange(exchange, batched=lanes,
                                              breaker=self.availability.breaker, meters=meters)
            exchange = self._batching
            window = max(window, self._batching.window)
        self.forwarder = Forwarder(
            stopping=self._stopping,
            codec=codec,
            routes=RoutingTable(cfg.routes),
            exchange=exchange,
            meters=meters,
            batched=self._batching.batched if self._batching is not None else None,
            topics=self._topics,
            backoff=Backoff(cfg.backoff_initial_s, cfg.backoff_max_s),
            max_attempts=cfg.max_attempts,
            breaker_threshold=cfg.breaker_failure_threshold,
            breaker_reset_s=cfg.breaker_reset_s,
            remembered_deliveries=cfg.remembered_deliveries,
            availability=self.availability,
            holds=self.holds,
        )
        self._services = {rule.service for rule in cfg.routes}
        self._tracker = OffsetTracker()
        # Two windows ahead: a worker rarely has to wait for a commit to send.
        leases = SendLeases(headroom=2 * window)
        self._committer = Committer(self._consumer, self._tracker, leases,
                                    interval_s=cfg.commit_interval_s)
        self._assignments = Assignments(
            group=self._group, consumer=self._consumer, admin=self._admin,
            tracker=self._tracker, leases=leases, committer=self._committer,
            drain_timeout_s=cfg.drain_timeout_s)
        self._assignments.holds = self.holds
        self._dispatcher = self._assignments.dispatcher = Dispatcher(
            forwarder=self.forwarder,
            writer=OutcomeWriter(codec=codec, producer=producer, topics=self._topics,
                                 meters=self.forwarder.meters, holds=self.holds),
            tracker=self._tracker, leases=leases, max_in_flight=window,
            reconcile_first=self._assignments.reconcile_first)
        self._loops: list[asyncio.Task[None]] = []
        self._last_poll_ok = 0.0
        self._started = False

    # -- lifecycle ---------------------------------------------------------------------

    async def start(self) -> None:
        """Join the consumer group and start consuming."""
        await self._admin.start()
        try:
            await self.holds.create_topics(self._services)
            await self._consumer.start()
            try:
                # Before the first record: a hold left by an earlier outage goes first.
                await self.holds.load()
            except BaseException:
                await self._consumer.stop()
                raise
        except BaseException:
            await self._admin.stop()
            raise
        self._started = True
        self._last_poll_ok = time.monotonic()
        self._loops = [
            asyncio.create_task(self._consume_loop(), name="router-consume"),
            asyncio.create_task(self._committer.run(), name="router-commit"),
            asyncio.create_task(report_lag(self._consumer, self._tracker,
                                           self._cfg.lag_interval_s), name="router-lag"),
            asyncio.create_task(self.holds.run(), name="router-holds"),
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
        await self._assignments.cancel_settling()
        # Requests already on the wire may finish; records waiting to retry are left
        # uncommitted for the next owner.
        self._stopping.set()
        await self._dispatcher.wait_chains(self._cfg.drain_timeout_s)
        await self._dispatcher.cancel_all()
        if self._batching is not None:
            await self._batching.close()
        drained = self._tracker.outstanding == 0
        for task in self._loops[1:]:
            task.cancel()
        for task in self._loops[1:]:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._loops = []
        await self.availability.stop()
        try:
            await self._committer.commit(clean=drained, everything=True)
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

    # -- consumer group (delegated: see assignment) ---------------------------------------

    async def partitions_revoked(self, partitions: set[TopicPartition]) -> None:
        """Finish and commit the revoked partitions' work before handing them over."""
        await self._assignments.partitions_revoked(partitions)

    async def partitions_assigned(self, partitions: set[TopicPartition]) -> None:
        """Hold new partitions paused until it is known which records to reconcile."""
        await self._assignments.partitions_assigned(partitions)

    # -- consuming -----------------------------------------------------------------------

    async def _consume_loop(self) -> None:
        dispatcher = self._dispatcher
        while True:
            await dispatcher.room.wait()
            try:
                records = await self._consumer.poll(
                    0.2, max_records=max(1, min(500, dispatcher.free)))
            except KafkaError as exc:
                log.warning("consume failed; retrying", error=str(exc))
                await asyncio.sleep(1.0)
                continue
            self._last_poll_ok = time.monotonic()
            for rec in records:
                dispatcher.dispatch(rec)
            dispatcher.update_room()
