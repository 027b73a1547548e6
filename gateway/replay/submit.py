"""The submit pass: re-read the selected dead-letter records and re-submit them.

Only coordinates are kept from the selection scan; the bytes are read again here, from
the first selected offset of each partition, so a replay of a million transactions does
not hold a million records in memory. Sends are pipelined (a bounded window of
unacknowledged records) and paced by a token bucket; a transaction counts as replayed
once Kafka acknowledged its re-submission.
"""

from __future__ import annotations

__all__ = ["SubmitProgress", "resubmit"]

import asyncio
from collections import deque
from collections.abc import Callable
from contextlib import aclosing
from dataclasses import dataclass, field

from gateway.headers import H_TRANSACTION
from gateway.kafka import DeliveryReport, Producer
from gateway.logs import get_logger
from gateway.replay.deadletters import resubmission_headers
from gateway.replay.ratelimit import TokenBucket
from gateway.replay.scan import ScanStats, scan
from gateway.replay.selection import Selection
from gateway.topics import Topics

_log = get_logger(__name__)
_WINDOW = 256


@dataclass(slots=True)
class SubmitProgress:
    """What the submit pass has done so far; owned by the caller, so it survives a stop."""

    submitted: list[str] = field(default_factory=list)
    """Transaction ids whose re-submission Kafka acknowledged, in order."""
    missing: list[str] = field(default_factory=list)
    """Selected, but their dead-letter record was gone (retention) when re-read."""
    stats: ScanStats | None = None


async def resubmit(
    bootstrap_servers: str,
    *,
    producer: Producer,
    topics: Topics,
    selection: Selection,
    replay_id: str,
    bucket: TokenBucket,
    progress: SubmitProgress,
    on_acked: Callable[[str], None] = lambda _tx: None,
) -> None:
    """Re-submit every eligible transaction of `selection` to the replay topic."""
    wanted = {(d.partition, d.offset): d.transaction_id for d in selection.eligible}
    if not wanted:
        return
    start = selection.dead_letter_start(topics.dead_letter)
    window: deque[tuple[str, asyncio.Future[DeliveryReport]]] = deque()
    progress.stats = ScanStats((topics.dead_letter,))

    async def settle(until: int) -> None:
        # The oldest first: acknowledgements of one partition arrive in order anyway.
        while len(window) > until or (window and window[0][1].done()):
            tx, ack = window.popleft()
            await ack
            progress.submitted.append(tx)
            on_acked(tx)

    try:
        async with aclosing(scan(bootstrap_servers, [topics.dead_letter], start=start,
                                 stats=progress.stats)) as records:
            async for rec in records:
                tx = wanted.pop((rec.partition, rec.offset), None)
                if tx is None:
                    continue
                if rec.header(H_TRANSACTION) != tx.encode():
                    # The offset now holds something else: never send a stranger's record.
                    _log.error("dead-letter record changed since selection; not replayed",
                               partition=rec.partition, offset=rec.offset, transaction_id=tx)
                    progress.missing.append(tx)
                    continue
                await bucket.take()
                ack = await producer.send(topics.replay, rec.value, key=rec.key,
                                          headers=resubmission_headers(rec, replay_id))
                window.append((tx, asyncio.ensure_future(ack)))
                await settle(_WINDOW - 1)
                if not wanted:
                    break
        await settle(0)
    finally:
        # Stopped early (Ctrl-C, an error): what is not acknowledged is not counted. The
        # next run's selection sees whatever did reach the replay topic.
        abandoned = [ack for _tx, ack in window]
        for ack in abandoned:
            ack.cancel()
        if abandoned:
            await asyncio.wait(abandoned)
            for ack in abandoned:
                if not ack.cancelled() and ack.exception() is not None:
                    _log.warning("re-submission not acknowledged", replay_id=replay_id,
                                 error=str(ack.exception()))
    if wanted:
        progress.missing.extend(wanted.values())
        _log.warning("selected dead-letter records no longer in the topic; not replayed",
                     replay_id=replay_id, count=len(wanted))
