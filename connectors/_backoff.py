"""Exponential backoff with jitter, shared by the connectors and the simulators' senders."""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass(slots=True)
class Backoff:
    """Delays that double from `initial_s` up to `max_s`, each shortened by random jitter.

    Jitter spreads retries of many clients after a shared outage, so a recovering source
    is not hit by all of them in the same instant.
    """

    initial_s: float
    max_s: float
    factor: float = 2.0
    jitter: float = 0.2
    _current: float = field(default=0.0, init=False)

    def next_delay(self) -> float:
        """The delay before the next attempt; grows with every call until `reset`."""
        self._current = (
            self.initial_s if self._current == 0.0 else min(self.max_s, self._current * self.factor)
        )
        # Not for security: jitter only needs to differ between clients.
        return self._current * (1.0 - self.jitter * random.random())  # noqa: S311 - jitter, not crypto

    def reset(self) -> None:
        """Start again from `initial_s` (after a success)."""
        self._current = 0.0
