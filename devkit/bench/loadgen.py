"""Load generators for the one-stop webhook: closed loop (throughput), open loop (latency).

Every request is signed as the one-stop system signs it and must be answered 200; both
loops are bounded in count and in time, and only ever talk to the loopback webhook
URL they are given.

The open loop schedules event `i` at `t0 + i / rate` whatever the answers do, and stamps
the event's `occurred_at` with that scheduled time. A gateway that falls behind therefore
shows its queueing in the latency instead of silently slowing the generator down
(coordinated omission).
"""

from __future__ import annotations

__all__ = ["LoadResult", "WebhookLoad"]

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import aiohttp
import orjson

from connectors.one_stop.signature import SIGNATURE_HEADER, sign
from devkit.bench.measure import BenchError, Throughput, bounded

BodyFor = Callable[[int, int, datetime], bytes]
"""(first index, how many, occurred_at) -> the JSON body of one webhook request."""

# The open loop wakes this often and sends every event that has come due since.
_TICK_S = 0.002


@dataclass(slots=True)
class LoadResult:
    """What a load run achieved; `transaction_ids` of the accepted events."""

    sent: int = 0
    accepted: int = 0
    failed: int = 0
    skipped: int = 0
    elapsed_s: float = 0.0
    most_outstanding: int = 0
    transaction_ids: list[str] = field(default_factory=list)

    @property
    def throughput(self) -> Throughput:
        """Accepted events over the run."""
        return Throughput(self.accepted, self.elapsed_s)


class WebhookLoad:
    """Signed POSTs to one webhook URL over a pool of `connections` keep-alive connections."""

    def __init__(self, url: str, secret: str, bodies: BodyFor, *, connections: int) -> None:
        if urlsplit(url).hostname not in ("127.0.0.1", "localhost"):
            raise BenchError(f"the load generator only targets loopback, not {url}")
        self._url = url
        self._secret = secret.encode()
        self._bodies = bodies
        self._connections = connections

    def _session(self) -> aiohttp.ClientSession:
        return aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=self._connections),
            timeout=aiohttp.ClientTimeout(total=30),
        )

    async def _post(self, session: aiohttp.ClientSession, first: int, size: int,
                    occurred_at: datetime, result: LoadResult) -> None:
        body = self._bodies(first, size, occurred_at)
        headers = {SIGNATURE_HEADER: sign(self._secret, body),
                   "Content-Type": "application/json"}
        result.sent += size
        try:
            async with session.post(self._url, data=body, headers=headers) as resp:
                answer = await resp.read()
                status = resp.status
        except (aiohttp.ClientError, TimeoutError):
            result.failed += size
            return
        if status != 200:
            result.failed += size
            return
        result.accepted += size
        result.transaction_ids.extend(orjson.loads(answer)["transaction_ids"])

    async def closed_loop(self, *, start: int, events: int, batch: int, concurrency: int,
                          timeout_s: float) -> LoadResult:
        """`concurrency` senders, each posting its next request once answered."""
        result = LoadResult()
        next_index = start
        end = start + events

        async def sender(session: aiohttp.ClientSession) -> None:
            nonlocal next_index
            while next_index < end:
                first, size = next_index, min(batch, end - next_index)
                next_index += size
                await self._post(session, first, size, datetime.now(UTC), result)

        async with self._session() as session:
            started = time.monotonic()
            async with bounded(timeout_s, "the webhook load"), asyncio.TaskGroup() as group:
                for _ in range(concurrency):
                    group.create_task(sender(session))
            result.elapsed_s = time.monotonic() - started
        return result

    async def open_loop(self, *, start: int, rate: float, duration_s: float,
                        max_outstanding: int, timeout_s: float) -> LoadResult:
        """Single events at `rate`/s for `duration_s`, stamped with their scheduled time."""
        result = LoadResult()
        total = int(rate * duration_s)
        loop = asyncio.get_running_loop()
        tasks: set[asyncio.Task[None]] = set()
        async with self._session() as session:
            t0, wall0 = loop.time(), datetime.now(UTC)
            try:
                async with bounded(timeout_s, f"the webhook load at {rate:g}/s"):
                    due_sent = 0
                    while due_sent < total:
                        due = min(total, int((loop.time() - t0) * rate) + 1)
                        for i in range(due_sent, due):
                            if len(tasks) >= max_outstanding:
                                result.skipped += 1  # the gateway is saturated; stay open-loop
                                continue
                            at = wall0 + timedelta(seconds=i / rate)
                            task = asyncio.create_task(self._post(session, start + i, 1, at,
                                                                  result))
                            tasks.add(task)
                            task.add_done_callback(tasks.discard)
                        result.most_outstanding = max(result.most_outstanding, len(tasks))
                        due_sent = due
                        await asyncio.sleep(_TICK_S)
                    result.elapsed_s = loop.time() - t0
                    if tasks:
                        await asyncio.wait(set(tasks))
            finally:
                for task in tasks:
                    task.cancel()
                if tasks:
                    await asyncio.wait(set(tasks))
        return result
