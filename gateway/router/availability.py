"""Which national services answer now: a circuit breaker per service, probed while open.

While a service's breaker is open nothing is sent to it, and its transactions are held
(see holds). One prober task per unavailable service sends a lookup (safe: it changes
nothing at the national side) each time the breaker allows a probe; the breaker doubles
its wait after every failed probe up to a ceiling. The first answer closes the breaker,
and everything waiting for the service flows again.
"""

from __future__ import annotations

__all__ = ["PROBE_TRANSACTION_ID", "ServiceAvailability"]

import asyncio
import contextlib
from collections.abc import Callable

from gateway.errors import ForwardError
from gateway.logs import get_logger
from gateway.metrics import CIRCUIT_STATE
from gateway.router.breaker import CircuitBreaker, CircuitState
from gateway.router.exchange import NationalExchange

log = get_logger(__name__)

# A lookup of an id no transaction has: any answer, found or not, says the service is up.
PROBE_TRANSACTION_ID = "lgsp-availability-probe"


class ServiceAvailability:
    """Breakers per national service; owns the probers of the unavailable ones."""

    def __init__(
        self, *, exchange: NationalExchange, threshold: int, reset_s: float, reset_max_s: float,
        on_change: Callable[[str, CircuitState], None] | None = None,
    ) -> None:
        self._exchange = exchange
        self._threshold = threshold
        self._reset_s = reset_s
        self._reset_max_s = reset_max_s
        self._on_change = on_change
        self._breakers: dict[str, CircuitBreaker] = {}
        self._up: dict[str, asyncio.Event] = {}
        self._probers: dict[str, asyncio.Task[None]] = {}
        self._running = True

    def listen(self, on_change: Callable[[str, CircuitState], None]) -> None:
        """Hear every state a service's breaker enters (holds pause and resume by it)."""
        self._on_change = on_change

    def breaker(self, service: str) -> CircuitBreaker:
        """The circuit breaker of one national service."""
        found = self._breakers.get(service)
        if found is None:
            gauge = CIRCUIT_STATE.labels(service)

            def changed(state: CircuitState) -> None:
                gauge.set(int(state))
                self._changed(service, state)

            found = self._breakers[service] = CircuitBreaker(
                self._threshold, self._reset_s, on_change=changed, reset_max_s=self._reset_max_s)
        return found

    def available(self, service: str) -> bool:
        """Whether the service's breaker is closed (it answered the last requests)."""
        breaker = self._breakers.get(service)
        return breaker is None or breaker.state is CircuitState.CLOSED

    async def wait_available(self, service: str, timeout_s: float) -> bool:
        """Wait until the service answers again, at most `timeout_s`; whether it did."""
        if self.available(service):
            return True
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._event(service).wait(), max(0.0, timeout_s))
        return self.available(service)

    async def stop(self) -> None:
        """Cancel the probers and wait for them."""
        self._running = False
        tasks = list(self._probers.values())
        self._probers.clear()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def _event(self, service: str) -> asyncio.Event:
        event = self._up.get(service)
        if event is None:
            event = self._up[service] = asyncio.Event()
            if self.available(service):
                event.set()
        return event

    def _changed(self, service: str, state: CircuitState) -> None:
        event = self._event(service)
        if state is CircuitState.CLOSED:
            event.set()
        else:
            event.clear()
        if state is CircuitState.OPEN and self._running and service not in self._probers:
            log.warning("national service unavailable; holding its transactions",
                        service=service)
            task = asyncio.get_running_loop().create_task(self._probe(service),
                                                          name=f"probe-{service}")
            self._probers[service] = task
            task.add_done_callback(lambda _t: self._probers.pop(service, None))
        if self._on_change is not None:
            self._on_change(service, state)

    async def _probe(self, service: str) -> None:
        breaker = self.breaker(service)
        while breaker.state is not CircuitState.CLOSED:
            await asyncio.sleep(max(0.05, breaker.open_for_s()))
            if not breaker.allow():
                continue  # another request holds the one probe allowed; wait for it
            try:
                await self._exchange.lookup(service, PROBE_TRANSACTION_ID)
            except ForwardError as exc:
                if exc.retriable:
                    breaker.record_failure()
                    log.info("national service still unavailable", service=service,
                             next_probe_s=round(breaker.open_for_s(), 1), error=str(exc))
                    continue
            breaker.record_success()
            log.info("national service answers again; releasing held transactions",
                     service=service)
