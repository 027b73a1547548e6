"""The one retry-pause policy of the gateway: exponential growth, capped, with jitter.

The router uses it per transaction (`delay(attempt)`), connectors and simulators per
source (`BackoffTimer`, which counts the attempts since the last success). Jitter
spreads the retries of many clients after a shared outage, so a recovering system is not
hit by all of them in the same instant.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

__all__ = ["Backoff", "BackoffTimer"]

_RNG = random.Random()  # noqa: S311 - jitter needs no cryptographic randomness


@dataclass(frozen=True, slots=True)
class Backoff:
    """Delay before retry `attempt` (1-based): uniform in [c/10, c].

    c = min(max_s, initial_s * 2^(attempt-1)).
    """

    initial_s: float
    max_s: float

    def ceiling(self, attempt: int) -> float:
        """The longest delay before retry `attempt`."""
        return min(self.max_s, self.initial_s * 2.0 ** max(0, min(attempt - 1, 64)))

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        """Seconds to wait before retry `attempt`."""
        ceiling = self.ceiling(attempt)
        # Full jitter, but never less than a tenth of the ceiling so a retry storm after an
        # outage still spreads out instead of hammering at once.
        return (rng or _RNG).uniform(ceiling / 10, ceiling)

    def timer(self) -> BackoffTimer:
        """A counter of failures in a row that yields this policy's delays."""
        return BackoffTimer(self)


@dataclass(slots=True)
class BackoffTimer:
    """The delays of a `Backoff` for failures in a row, from the first again after `reset`."""

    policy: Backoff
    _failures: int = field(default=0, init=False)

    def next_delay(self) -> float:
        """The delay before the next attempt; grows with every call until `reset`."""
        self._failures += 1
        return self.policy.delay(self._failures)

    def reset(self) -> None:
        """Start again from the first delay (after a success)."""
        self._failures = 0
