"""The story seen from outside: what Prometheus scraped, and one transaction worth tracing."""

from __future__ import annotations

__all__ = ["PrometheusView", "look_in_prometheus", "trace_example"]

import asyncio
import contextlib
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import aiohttp

from devkit.demo.errors import DemoError
from devkit.demo.probes import GatewayNumbers
from devkit.demo.prometheus import Prometheus
from gateway.errors import GatewayError
from gateway.headers import H_TRANSACTION
from gateway.kafka import read_topic
from gateway.metrics import OUTCOME_DEAD_LETTERED, OUTCOME_DELIVERED, OUTCOME_RETRIED
from gateway.settings import load_settings
from gateway.topics import Topics

# Prometheus scrapes every 5 s (deploy/prometheus/prometheus.yml): a few scrapes' time.
_CATCH_UP_S = 30.0


@dataclass(slots=True)
class PrometheusView:
    """Answers of the Prometheus query API at the end of the story."""

    connectors: tuple[str, ...]
    ingested: dict[str, float] = field(default_factory=dict)
    outcomes: dict[str, float] = field(default_factory=dict)
    dead_letters: dict[str, float] = field(default_factory=dict)
    alerts: list[tuple[str, str]] = field(default_factory=list)
    caught_up: bool = True

    def lines(self) -> list[str]:
        """The view as console lines (key=value, easy to read and to grep)."""
        ingested = " ".join(f"{c}={self.ingested.get(c, 0):.0f}" for c in self.connectors)
        outcomes = " ".join(f"{o}={self.outcomes.get(o, 0):.0f}"
                            for o in (OUTCOME_DELIVERED, OUTCOME_DEAD_LETTERED, OUTCOME_RETRIED))
        reasons = " ".join(f"{r}={v:.0f}" for r, v in sorted(self.dead_letters.items()))
        alerts = ", ".join(f"{name} ({state})" for name, state in self.alerts) or "none"
        lines = [
            f"ingested by connector: {ingested}",
            f"transactions by outcome: {outcomes}",
            f"dead letters: {sum(self.dead_letters.values()):.0f}"
            + (f" by reason: {reasons}" if reasons else ""),
            f"alerts pending or firing: {alerts}",
        ]
        if not self.caught_up:
            lines.append("(Prometheus had not scraped the final numbers yet)")
        return lines

    def problems(self) -> list[str]:
        """What a complete story should have shown but Prometheus did not."""
        found = [f"no ingest for connector {c}" for c in self.connectors
                 if self.ingested.get(c, 0) <= 0]
        if sum(self.dead_letters.values()) <= 0:
            found.append("no dead letters although the national endpoint was down")
        return found

    def require_complete(self) -> None:
        """DemoError (one line) unless Prometheus saw all three connectors and dead letters."""
        problems = self.problems()
        if problems:
            raise DemoError("Prometheus does not show the whole story: " + "; ".join(problems))


async def look_in_prometheus(session: aiohttp.ClientSession, prometheus: Prometheus,
                             numbers: GatewayNumbers, connectors: Sequence[str]
                             ) -> PrometheusView:
    """Wait for a scrape with the gateway's current totals, then query what the story made."""
    view = PrometheusView(tuple(connectors))
    deadline = time.monotonic() + _CATCH_UP_S
    while True:
        ingested = await prometheus.scalar(session, "sum(lgsp_ingested_total)") or 0.0
        delivered = await prometheus.scalar(
            session, f'sum(lgsp_transactions_total{{outcome="{OUTCOME_DELIVERED}"}})') or 0.0
        if ingested >= numbers.total_ingested and delivered >= numbers.delivered:
            break
        if time.monotonic() > deadline:
            view.caught_up = False
            break
        await asyncio.sleep(1.0)
    view.ingested = {s.labels.get("connector", ""): s.value for s in await prometheus.query(
        session, "sum by (connector) (lgsp_ingested_total)")}
    view.outcomes = {s.labels.get("outcome", ""): s.value for s in await prometheus.query(
        session, "sum by (outcome) (lgsp_transactions_total)")}
    view.dead_letters = {s.labels.get("reason", ""): s.value for s in await prometheus.query(
        session, "sum by (reason) (lgsp_dead_lettered_total)")}
    view.alerts = await prometheus.alerts(session)
    return view


async def trace_example(bootstrap: str) -> str | None:
    """The id of the newest dead-lettered transaction (the best one to trace), if any."""
    with contextlib.suppress(GatewayError, TimeoutError):
        topic = Topics(load_settings().topic_prefix).dead_letter
        async with asyncio.timeout(30):
            records = await read_topic(bootstrap, topic)
        for record in reversed(records):
            value = record.header(H_TRANSACTION)
            if value:
                return value.decode(errors="replace")
    return None
