"""What the demo reads from its processes over HTTP: health, /metrics, stub stats, faults."""

from __future__ import annotations

__all__ = [
    "GatewayNumbers",
    "gateway_numbers",
    "get_json",
    "parse_gateway_metrics",
    "set_national_outage",
    "stub_stats",
    "wait_until_ok",
]

import asyncio
import time
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from devkit.demo.errors import DemoError
from gateway.metrics import (
    OUTCOME_DEAD_LETTERED,
    OUTCOME_DELIVERED,
    OUTCOME_HELD,
    OUTCOME_RETRIED,
)


@dataclass(slots=True)
class GatewayNumbers:
    """Totals read from the gateway's /metrics."""

    ingested: dict[str, float] = field(default_factory=dict)
    outcomes: dict[str, float] = field(default_factory=dict)
    in_flight: float = 0.0
    replayed: float = 0.0

    @property
    def total_ingested(self) -> float:
        """Transactions published by all connectors."""
        return sum(self.ingested.values())

    @property
    def delivered(self) -> float:
        """Final outcome `delivered` (replays included)."""
        return self.outcomes.get(OUTCOME_DELIVERED, 0.0)

    @property
    def dead_lettered(self) -> float:
        """Final outcome `dead_lettered`."""
        return self.outcomes.get(OUTCOME_DEAD_LETTERED, 0.0)

    @property
    def retried(self) -> float:
        """Retries scheduled after transient failures."""
        return self.outcomes.get(OUTCOME_RETRIED, 0.0)

    @property
    def held(self) -> float:
        """Times a transaction was moved to its service's hold topic (an outage's traffic)."""
        return self.outcomes.get(OUTCOME_HELD, 0.0)

    @property
    def settled(self) -> float:
        """Transactions with a final outcome."""
        return self.delivered + self.dead_lettered


def parse_gateway_metrics(text: str) -> GatewayNumbers:
    """Sum the counters the demo reports from the exposition text."""
    numbers = GatewayNumbers()
    ingested: dict[str, float] = defaultdict(float)
    outcomes: dict[str, float] = defaultdict(float)
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "lgsp_ingested_total":
                ingested[sample.labels.get("connector", "")] += sample.value
            elif sample.name == "lgsp_transactions_total":
                outcomes[sample.labels.get("outcome", "")] += sample.value
            elif sample.name == "lgsp_in_flight_transactions":
                numbers.in_flight += sample.value
            elif sample.name == "lgsp_replayed_total":
                numbers.replayed += sample.value
    numbers.ingested = dict(sorted(ingested.items()))
    numbers.outcomes = dict(outcomes)
    return numbers


async def get_json(session: aiohttp.ClientSession, url: str, *,
                   headers: Mapping[str, str] | None = None) -> Any:
    """GET a JSON document; DemoError (one line) when it cannot be had."""
    try:
        async with session.get(url, headers=headers) as response:
            response.raise_for_status()
            return await response.json(content_type=None)
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        raise DemoError(f"GET {url} failed: {type(exc).__name__}: {exc}") from exc


async def gateway_numbers(session: aiohttp.ClientSession, gateway_url: str) -> GatewayNumbers:
    """The gateway's counters right now."""
    url = f"{gateway_url}/metrics"
    try:
        async with session.get(url) as response:
            response.raise_for_status()
            text = await response.text()
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise DemoError(f"GET {url} failed: {type(exc).__name__}: {exc}") from exc
    return parse_gateway_metrics(text)


async def stub_stats(session: aiohttp.ClientSession, stub_url: str) -> dict[str, Any]:
    """The stub's GET /ndxp/v1/stats."""
    stats: dict[str, Any] = await get_json(session, f"{stub_url}/ndxp/v1/stats")
    return stats


async def set_national_outage(session: aiohttp.ClientSession, stub_url: str, down: bool
                              ) -> None:
    """Take the national endpoint down (or bring it back) through the stub's fault API."""
    await set_stub_faults(session, stub_url, down=down)


async def set_stub_faults(session: aiohttp.ClientSession, stub_url: str, **faults: object
                          ) -> None:
    """Change the stub's injected faults (PUT /ndxp/v1/faults)."""
    url = f"{stub_url}/ndxp/v1/faults"
    try:
        async with session.put(url, json=faults) as response:
            response.raise_for_status()
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise DemoError(f"PUT {url} failed: {type(exc).__name__}: {exc}") from exc


async def wait_until_ok(session: aiohttp.ClientSession, url: str, *, timeout_s: float,
                        what: str, alive: Callable[[], str | None]) -> None:
    """Poll `url` until it answers 200; `alive()` returns why to give up early (or None)."""
    deadline = time.monotonic() + timeout_s
    last = "no answer yet"
    while time.monotonic() < deadline:
        reason = alive()
        if reason is not None:
            raise DemoError(f"{what}: {reason}")
        try:
            async with session.get(url) as response:
                if response.status == 200:
                    return
                last = f"HTTP {response.status}"
        except (aiohttp.ClientError, TimeoutError) as exc:
            last = type(exc).__name__
        await asyncio.sleep(0.2)
    raise DemoError(f"{what}: {url} did not answer 200 within {timeout_s:.0f} s ({last})")
