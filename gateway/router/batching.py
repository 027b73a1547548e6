"""Batched forwarding: one request carries many transactions to a service that takes batches.

The router's chains still forward one transaction each, in per-key order; for a service
the catalogue marks as accepting batches, `BatchingExchange.submit` puts the transaction
in that service's *lane* instead of sending it. A lane sends what it has gathered as one
`:batch` request when it holds `max_items`, or `linger_ms` after its first transaction,
with at most `max_requests` requests of the service in flight (while they are all busy,
the lane keeps filling, so a backlog goes out in full batches). Each chain gets its own
transaction's outcome back: a receipt, or the error that transaction alone met, so a
batch partly refused dead-letters only the refused ones and a retry resends only what is
not final. Lookups (reconcile-before-resend) are gathered the same way into `:lookup`
requests, so a timed-out batch costs one lookup request, not one per transaction.

The breaker of a batched service hears each request once, not each transaction: the
forwarder leaves it to the lane (`batched`).
"""

from __future__ import annotations

__all__ = ["BatchClient", "BatchingExchange", "batched_services"]

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Generic, Protocol, TypeVar, runtime_checkable

from gateway.errors import ForwardError
from gateway.logs import get_logger
from gateway.metrics import FORWARD_BATCH_SIZE
from gateway.ndxp import OutboundTransaction, Receipt
from gateway.ndxp.catalogue import NationalService
from gateway.router.breaker import CircuitBreaker
from gateway.router.meters import RouterMeters
from gateway.settings import BatchingSettings, BatchSettings

log = get_logger(__name__)

Item = TypeVar("Item")
Result = TypeVar("Result")


@runtime_checkable
class BatchClient(Protocol):
    """What batching needs from the NDXP client: the single and the bulk calls."""

    async def submit(self, service: str, tx: OutboundTransaction) -> Receipt:
        """Deliver one transaction; raises ForwardError subclasses."""

    async def lookup(self, service: str, transaction_id: str) -> Receipt | None:
        """The receipt if the national side already has this transaction, else None."""

    async def submit_batch(
        self, service: str, txs: Sequence[OutboundTransaction]
    ) -> list[Receipt | ForwardError]:
        """One request for many transactions: an outcome per transaction, in order."""

    async def lookup_batch(
        self, service: str, transaction_ids: Sequence[str]
    ) -> list[Receipt | None]:
        """One request asking about many transactions: a receipt or None each, in order."""


class _Lane(Generic[Item, Result]):
    """Gathers items for one service and kind, sends them in bounded concurrent requests."""

    def __init__(self, name: str, settings: BatchSettings,
                 request: Callable[[list[Item]], Awaitable[Sequence[Result | ForwardError]]],
                 heard: Callable[[ForwardError | None], None]) -> None:
        self._name = name
        self._max_items = settings.max_items
        self._linger_s = settings.linger_ms / 1000
        self._request = request
        self._heard = heard
        self._slots = asyncio.Semaphore(settings.max_requests)
        self._waiting: list[tuple[Item, asyncio.Future[Result]]] = []
        self._first_at = 0.0
        self._ready = asyncio.Event()  # something is waiting
        self._full = asyncio.Event()  # a whole batch is waiting
        self._runner: asyncio.Task[None] | None = None
        self._requests: set[asyncio.Task[None]] = set()

    async def call(self, item: Item) -> Result:
        """Send `item` in the next batch; its own outcome, or its ForwardError raised."""
        if self._runner is None:
            self._runner = asyncio.create_task(self._run(), name=f"batch-lane-{self._name}")
        future: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        if not self._waiting:
            self._first_at = time.monotonic()
            self._ready.set()
        self._waiting.append((item, future))
        if len(self._waiting) >= self._max_items:
            self._full.set()
        return await future

    async def _run(self) -> None:
        while True:
            await self._ready.wait()
            linger = self._first_at + self._linger_s - time.monotonic()
            if linger > 0 and not self._full.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._full.wait(), linger)
            await self._slots.acquire()
            batch = self._take()
            if not batch:
                self._slots.release()
                continue
            task = asyncio.create_task(self._send(batch), name=f"batch-send-{self._name}")
            self._requests.add(task)
            task.add_done_callback(self._requests.discard)

    def _take(self) -> list[tuple[Item, asyncio.Future[Result]]]:
        # A chain cancelled while its transaction waited (a revoked partition, a stop)
        # has given the record up: it is not sent, so the next owner sends it only once.
        live = [(item, future) for item, future in self._waiting if not future.done()]
        batch, rest = live[:self._max_items], live[self._max_items:]
        self._waiting = rest
        if rest:
            self._first_at = time.monotonic()
        else:
            self._ready.clear()
        if len(rest) < self._max_items:
            self._full.clear()
        return batch

    async def _send(self, batch: list[tuple[Item, asyncio.Future[Result]]]) -> None:
        try:
            try:
                results = await self._request([item for item, _ in batch])
            except ForwardError as exc:
                self._heard(exc)
                _settle(batch, [exc] * len(batch))
                return
            self._heard(None)
            _settle(batch, results)
        except asyncio.CancelledError:
            for _, future in batch:
                future.cancel()
            raise
        except Exception as exc:  # a defect: each chain dead-letters its record, none waits
            log.exception("batch request failed unexpectedly", lane=self._name)
            _settle(batch, [exc] * len(batch))
        finally:
            self._slots.release()

    async def close(self) -> None:
        """Cancel the gathering and any request in flight; waiting callers are cancelled."""
        tasks = [t for t in (self._runner, *self._requests) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._runner = None
        for _, future in self._waiting:
            future.cancel()
        self._waiting = []


def _settle(batch: Sequence[tuple[object, asyncio.Future[Result]]],
            results: Sequence[Result | BaseException]) -> None:
    """Hand each waiting chain its own outcome (one whose chain gave up is dropped)."""
    for (_, future), result in zip(batch, results, strict=True):
        if future.done():
            continue
        if isinstance(result, BaseException):
            future.set_exception(result)
        else:
            future.set_result(result)


def batched_services(settings: BatchingSettings,
                     catalogue: Iterable[NationalService]) -> dict[str, BatchSettings]:
    """The services to batch: those the catalogue marks, unless the settings say no."""
    return {service.code: batch for service in catalogue if service.accepts_batch
            and (batch := settings.for_service(service.code)) is not None}


class BatchingExchange:
    """The national exchange as the router sees it, batching where a service allows it."""

    def __init__(self, client: BatchClient, *, batched: Mapping[str, BatchSettings],
                 breaker: Callable[[str], CircuitBreaker], meters: RouterMeters) -> None:
        self._client = client
        self._settings = dict(batched)
        self._breaker = breaker
        self._meters = meters
        self._submits: dict[str, _Lane[OutboundTransaction, Receipt]] = {}
        self._lookups: dict[str, _Lane[str, Receipt | None]] = {}
        for service, settings in batched.items():
            self._submits[service] = _Lane(
                f"{service}-submit", settings, self._submit_request(service),
                self._heard(service, "submit"))
            self._lookups[service] = _Lane(
                f"{service}-lookup", settings, self._lookup_request(service),
                self._heard(service, "lookup"))

    @property
    def window(self) -> int:
        """Transactions in flight that keep every lane busy with full batches."""
        # Every request slot of a lane busy, and as many gathering behind them.
        return max((2 * b.max_items * b.max_requests for b in self._settings.values()),
                   default=0)

    def batched(self, service: str) -> bool:
        """Whether this service's transactions travel in batches (its lane keeps the breaker)."""
        return service in self._submits

    async def submit(self, service: str, tx: OutboundTransaction) -> Receipt:
        """Deliver one transaction, in its service's next batch where it has a lane."""
        lane = self._submits.get(service)
        if lane is None:
            return await self._client.submit(service, tx)
        return await lane.call(tx)

    async def lookup(self, service: str, transaction_id: str) -> Receipt | None:
        """Whether the service has the transaction, asked in bulk where it has a lane."""
        lane = self._lookups.get(service)
        if lane is None:
            return await self._client.lookup(service, transaction_id)
        return await lane.call(transaction_id)

    async def close(self) -> None:
        """Stop every lane (the router's chains are already stopped)."""
        for submits in self._submits.values():
            await submits.close()
        for lookups in self._lookups.values():
            await lookups.close()

    def _submit_request(
        self, service: str
    ) -> Callable[[list[OutboundTransaction]], Awaitable[Sequence[Receipt | ForwardError]]]:
        size = FORWARD_BATCH_SIZE.labels(service=service, kind="submit")
        duration = self._meters.forward_duration(service)

        async def request(txs: list[OutboundTransaction]) -> Sequence[Receipt | ForwardError]:
            size.observe(len(txs))
            started = time.perf_counter()
            try:
                return await self._client.submit_batch(service, txs)
            finally:
                duration.observe(time.perf_counter() - started)
        return request

    def _lookup_request(
        self, service: str
    ) -> Callable[[list[str]], Awaitable[Sequence[Receipt | ForwardError | None]]]:
        size = FORWARD_BATCH_SIZE.labels(service=service, kind="lookup")

        async def request(ids: list[str]) -> Sequence[Receipt | ForwardError | None]:
            size.observe(len(ids))
            return await self._client.lookup_batch(service, ids)
        return request

    def _heard(self, service: str, kind: str) -> Callable[[ForwardError | None], None]:
        def heard(error: ForwardError | None) -> None:
            breaker = self._breaker(service)
            if error is not None and error.retriable:
                breaker.record_failure()
                log.warning("batch request failed", service=service, error=str(error),
                            kind=kind)
            else:
                breaker.record_success()  # it answered: the service itself is up
        return heard
