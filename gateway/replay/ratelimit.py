"""A token bucket: re-submissions leave at the operator's rate, in small bursts at most."""

from __future__ import annotations

__all__ = ["TokenBucket"]

import asyncio
import time
from collections.abc import Awaitable, Callable

_EPSILON = 1e-9


class TokenBucket:
    """`rate` tokens per second, at most `burst` saved up; `take` waits for one token.

    The default burst is a tenth of a second's worth (at least one), so a fast rate is
    not paced record by record, yet a national service recovering from an outage never
    sees more than a short burst above the rate it was promised.
    """

    def __init__(
        self,
        rate: float,
        *,
        burst: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        self.burst = burst if burst is not None else max(1.0, rate / 10)
        self._clock = clock
        self._sleep = sleep
        self._tokens = 1.0  # start with one token, not a full burst
        self._last = clock()

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
        self._last = now

    async def take(self) -> None:
        """Wait until a token is available and take it."""
        self._refill()
        # The tolerance: a shortfall of a rounding error would otherwise ask for a sleep
        # shorter than the clock can measure, and wait forever.
        while self._tokens < 1.0 - _EPSILON:
            await self._sleep((1.0 - self._tokens) / self.rate)
            self._refill()
        self._tokens = max(0.0, self._tokens - 1.0)
