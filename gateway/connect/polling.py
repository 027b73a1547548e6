"""The loop of a polling connector: poll, back off while the source fails, repeat."""

from __future__ import annotations

__all__ = ["poll_forever"]

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from gateway.backoff import BackoffTimer
from gateway.errors import KafkaError, SourceUnavailableError
from gateway.logs import get_logger

log = get_logger(__name__)


async def poll_forever(
    poll_once: Callable[[], Awaitable[int]], *, connector: str, interval_s: float,
    backoff: BackoffTimer, event: str,
    details: Callable[[], dict[str, Any]] = dict,
) -> None:
    """Call `poll_once` every `interval_s` until cancelled; raise only for what an operator
    must fix (a non-retriable error). A source or Kafka that fails for now is retried with
    the backoff, logged as `<event>_failed`; a poll that published logs `<event>ed`."""
    while True:
        try:
            published = await poll_once()
        except (SourceUnavailableError, KafkaError) as exc:
            if not exc.retriable:
                raise
            delay = backoff.next_delay()
            log.warning(f"{event}_failed", connector=connector, error=str(exc),
                        retry_in_s=round(delay, 2))
        else:
            backoff.reset()
            delay = interval_s
            if published:
                log.info(f"{event}ed", connector=connector, published=published, **details())
        await asyncio.sleep(delay)
