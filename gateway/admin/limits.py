"""Bounds on expensive reads: a trace or a replay history scans whole topics.

A burst of them must not take the CPU and broker bandwidth that forwarding needs, so at
most `max_concurrent` run at once per gateway; the next one is answered 429 with
`Retry-After` at once instead of queueing (a queue would only move the burst later).
"""

from __future__ import annotations

__all__ = ["ReadLimiter"]

import functools

from aiohttp import web

from gateway.admin.operations import Handler
from gateway.errors import TooManyRequestsError
from gateway.settings import Settings


class ReadLimiter:
    """Shared by every expensive read of one gateway."""

    def __init__(self, max_concurrent: int, *, retry_after_s: int = 1) -> None:
        self.max_concurrent = max_concurrent
        self.retry_after_s = retry_after_s
        self._running = 0

    @classmethod
    def of(cls, settings: Settings) -> ReadLimiter:
        """The limiter `LGSP_EXPENSIVE_READS__*` describes."""
        reads = settings.expensive_reads
        return cls(reads.max_concurrent, retry_after_s=reads.retry_after_s)

    @property
    def running(self) -> int:
        """Reads in progress now."""
        return self._running

    def limited(self, handler: Handler) -> Handler:
        """`handler`, refused with TooManyRequestsError while the limit is reached."""

        @functools.wraps(handler)
        async def bounded(request: web.Request) -> web.StreamResponse:
            if self._running >= self.max_concurrent:
                raise TooManyRequestsError(
                    f"{self.max_concurrent} expensive reads (traces, replay history) are "
                    f"running; try again in {self.retry_after_s} s",
                    retry_after_s=self.retry_after_s)
            self._running += 1
            try:
                return await handler(request)
            finally:
                self._running -= 1

        return bounded
