"""Measuring tools: progress watchers (throughput), percentiles, HTTP probes.

Throughput is measured from outside the process under test: a watcher samples a count
(the stub's unique transactions, a gateway counter) every `interval_s` and the rate is
taken between the last sample before progress began and the sample that saw the target.
So start-up (joining the consumer group, connecting) is left out, and the rate can be
understated by at most one interval at each end, never overstated.
"""

from __future__ import annotations

__all__ = [
    "BenchError",
    "Counter",
    "CpuMeter",
    "Latency",
    "Throughput",
    "bounded",
    "gateway_counter",
    "latency_of",
    "stub_unique",
    "watch",
]

import asyncio
import contextlib
import math
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field

import aiohttp

from gateway.errors import GatewayError
from gateway.ndxp.wire import STATS_PATH

Counter = Callable[[], Awaitable[int]]
"""Reads a monotonically growing count (deliveries, ingested records)."""


class BenchError(GatewayError):
    """A benchmark step could not be measured (a process died, a count never arrived)."""


@contextlib.asynccontextmanager
async def bounded(timeout_s: float, what: str) -> AsyncIterator[None]:
    """Cancel the block after `timeout_s`; a BenchError (one line) says what overran."""
    try:
        async with asyncio.timeout(timeout_s):
            yield
    except TimeoutError:
        raise BenchError(f"{what} did not finish within {timeout_s:.0f}s") from None


CpuMeter = Callable[[], float | None]
"""CPU seconds a process has used so far (None once it is gone)."""


@dataclass(frozen=True, slots=True)
class Throughput:
    """`count` items in `elapsed_s` seconds, and the CPU seconds processes spent meanwhile.

    CPU per item is the steadier figure on a shared machine: other people's work slows
    the wall clock, not the CPU time our processes need for each transaction.
    """

    count: int
    elapsed_s: float
    cpu_s: Mapping[str, float] = field(default_factory=dict)

    @property
    def per_s(self) -> float:
        """Items per second."""
        return self.count / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def cpu_us_per_item(self) -> dict[str, float]:
        """CPU microseconds per item, per measured process."""
        return {name: cpu / self.count * 1e6 for name, cpu in self.cpu_s.items()
                if self.count > 0}


async def watch(counter: Counter, target: int, *, timeout_s: float, what: str,
                start: int | None = None, interval_s: float = 0.1,
                alive: Callable[[], bool] | None = None,
                cpu: Mapping[str, CpuMeter] | None = None) -> Throughput:
    """Sample `counter` until it has grown by `target` from `start` (default: its value now).

    The rate is taken from the last sample still at `start` (or, if progress had begun
    before the first sample, from the first sample) to the one that saw the target;
    the `cpu` meters are read at those same two moments. Raises BenchError after
    `timeout_s`, or as soon as `alive()` says the process doing the work has died.
    """
    meters = dict(cpu or {})

    def cpu_now() -> dict[str, float | None]:
        return {name: meter() for name, meter in meters.items()}

    first = await counter()
    base = first if start is None else start
    from_t, from_count, from_cpu = time.monotonic(), first, cpu_now()
    deadline = from_t + timeout_s
    seen, now = first, from_t
    while seen - base < target:
        if alive is not None and not alive():
            raise BenchError(f"{what}: the process doing the work died at {seen - base}/{target}")
        if now > deadline:
            raise BenchError(f"{what}: only {seen - base} of {target} after {timeout_s:.0f}s")
        await asyncio.sleep(interval_s)
        now, seen, used = time.monotonic(), await counter(), cpu_now()
        if seen == base:
            # Nothing happened yet: the clock starts at the last idle sample.
            from_t, from_cpu = now, used
    used = cpu_now()
    spent = {name: end - begin for name, end in used.items()
             if end is not None and (begin := from_cpu.get(name)) is not None}
    return Throughput(seen - from_count, now - from_t, spent)


def stub_unique(session: aiohttp.ClientSession, stub_url: str) -> Counter:
    """A counter of the stub's unique (first-time) transactions."""

    async def read() -> int:
        async with session.get(stub_url + STATS_PATH) as resp:
            resp.raise_for_status()
            body = await resp.json()
        return int(body["unique"])

    return read


def gateway_counter(session: aiohttp.ClientSession, gateway_url: str, metric: str,
                    labels: str) -> Counter:
    """A counter read from the gateway's /metrics, e.g. `lgsp_ingested_total`."""
    line = re.compile(rf"^{re.escape(metric)}\{{{re.escape(labels)}\}} (\S+)$", re.MULTILINE)

    async def read() -> int:
        async with session.get(gateway_url + "/metrics") as resp:
            resp.raise_for_status()
            text = await resp.text()
        found = line.search(text)
        return int(float(found.group(1))) if found else 0

    return read


@dataclass(frozen=True, slots=True)
class Latency:
    """Percentiles of a latency sample, in milliseconds."""

    count: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    mean_ms: float


def latency_of(samples_ms: Sequence[float]) -> Latency:
    """Nearest-rank percentiles (no interpolation: every figure is a real observation)."""
    if not samples_ms:
        raise BenchError("no latency samples to summarise")
    ordered = sorted(samples_ms)

    def rank(p: float) -> float:
        return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]

    return Latency(len(ordered), rank(50), rank(95), rank(99), ordered[-1],
                   sum(ordered) / len(ordered))
