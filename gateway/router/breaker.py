"""A circuit breaker per national service: stop hammering a service that is failing."""

from __future__ import annotations

import enum
import time
from collections.abc import Callable


class CircuitState(enum.IntEnum):
    """Exported as the lgsp_circuit_state gauge value."""

    CLOSED = 0
    HALF_OPEN = 1
    OPEN = 2


class CircuitBreaker:
    """Opens after `threshold` consecutive failures; after `reset_s` lets one probe through.

    A successful probe closes it; a failed probe opens it again for twice as long as the
    last time, up to `reset_max_s`, so a long outage is probed ever less often.
    `on_change` hears every state it enters (the first is CLOSED), e.g. to set a gauge.
    """

    def __init__(
        self, threshold: int, reset_s: float, clock: Callable[[], float] = time.monotonic,
        on_change: Callable[[CircuitState], None] | None = None,
        reset_max_s: float | None = None,
    ) -> None:
        self._threshold = threshold
        self._base_reset_s = reset_s
        self._reset_s = reset_s
        self._reset_max_s = max(reset_s, reset_max_s if reset_max_s is not None else reset_s)
        self._clock = clock
        self._on_change = on_change
        self._failures = 0
        self._opened_at = 0.0
        self._probing = False
        self.state = CircuitState.CLOSED
        if on_change is not None:
            on_change(self.state)

    def _enter(self, state: CircuitState) -> None:
        if state is not self.state:
            self.state = state
            if self._on_change is not None:
                self._on_change(state)

    def allow(self) -> bool:
        """Whether a request may be sent now."""
        if self.state is CircuitState.CLOSED:
            return True
        if self.state is CircuitState.OPEN and self._clock() - self._opened_at >= self._reset_s:
            self._enter(CircuitState.HALF_OPEN)
            self._probing = False
        if self.state is CircuitState.HALF_OPEN and not self._probing:
            self._probing = True
            return True
        return False

    @property
    def failures_in_a_row(self) -> int:
        """Failures since the last success."""
        return self._failures

    def open_for_s(self) -> float:
        """Seconds until an open breaker lets a probe through (0 unless open)."""
        if self.state is not CircuitState.OPEN:
            return 0.0
        return max(0.0, self._opened_at + self._reset_s - self._clock())

    def record_success(self) -> None:
        """A request succeeded (or was refused for its data, which says the service is up)."""
        self._failures = 0
        self._probing = False
        self._reset_s = self._base_reset_s
        self._enter(CircuitState.CLOSED)

    def record_failure(self) -> None:
        """A request failed in a way that says the service is unhealthy."""
        self._failures += 1
        if self.state is CircuitState.HALF_OPEN:
            self._reset_s = min(self._reset_max_s, self._reset_s * 2)
        if self.state is CircuitState.HALF_OPEN or self._failures >= self._threshold:
            self._enter(CircuitState.OPEN)
            self._opened_at = self._clock()
            self._probing = False
