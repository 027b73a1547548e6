"""Exponential backoff with full jitter (spreads retries of many transactions apart)."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Backoff:
    """Delay before retry number `attempt` (1-based): uniform in [0, min(cap, base * 2^(n-1))]."""

    initial_s: float
    max_s: float

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        """Seconds to wait before retry `attempt`."""
        ceiling = min(self.max_s, self.initial_s * (2 ** max(0, attempt - 1)))
        # Full jitter, but never less than a tenth of the ceiling so a retry storm after an
        # outage still spreads out instead of hammering at once.
        return (rng or _RNG).uniform(ceiling / 10, ceiling)


_RNG = random.Random()  # noqa: S311 - jitter needs no cryptographic randomness
