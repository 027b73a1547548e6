"""What the demo prints: numbered steps, the closing "where to look", summary lines."""

from __future__ import annotations

__all__ = ["QUERIES", "Console", "Endpoints", "shown", "summary_line", "where_to_look"]

import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devkit.demo.probes import GatewayNumbers
from devkit.demo.prometheus import REPO, graph_link

_DEFAULT_BOOTSTRAP = "127.0.0.1:9092"
_DEFAULT_ADMIN = "http://127.0.0.1:8083"
# Ready-made Prometheus queries: what an operator looks at first.
QUERIES: tuple[tuple[str, str], ...] = (
    ("transactions/s by outcome", "sum by (outcome) (rate(lgsp_transactions_total[1m]))"),
    ("ingest/s by connector", "sum by (connector) (rate(lgsp_ingested_total[1m]))"),
    ("dead letters by reason", "sum by (service, reason) (lgsp_dead_lettered_total)"),
    ("forward latency p95 (s)", "histogram_quantile(0.95, sum by (le, service) "
     "(rate(lgsp_forward_duration_seconds_bucket[1m])))"),
)


class Console:
    """Lines on stdout, flushed at once (the demo is watched live, often through make)."""

    def __init__(self, steps: int) -> None:
        self._steps = steps
        self._step = 0

    def say(self, text: str = "") -> None:
        """One line."""
        sys.stdout.write(text + "\n")
        sys.stdout.flush()

    def step(self, text: str) -> None:
        """The next numbered step."""
        self._step += 1
        self.say(f"[{self._step}/{self._steps}] {text}")

    def detail(self, text: str) -> None:
        """An indented line under the current step."""
        self.say(f"      {text}")


def shown(path: Path) -> str:
    """A path as the user best reads it: relative to the current folder when inside it."""
    try:
        return os.path.relpath(path) if path.is_relative_to(Path.cwd()) else str(path)
    except ValueError:
        return str(path)


@dataclass(frozen=True, slots=True)
class Endpoints:
    """Where everything the demo started answers."""

    bootstrap: str
    gateway: str
    stub: str
    prometheus: str
    logs: Path
    broker_log: Path | None


def _lgsp(endpoints: Endpoints, args: str, *, admin: bool = False) -> str:
    """An `lgsp` command line that reaches this demo's gateway (admin) or broker."""
    if admin:
        url = f" --url {endpoints.gateway}" if endpoints.gateway != _DEFAULT_ADMIN else ""
        return f"lgsp {args}{url}"
    env = "" if endpoints.bootstrap == _DEFAULT_BOOTSTRAP else (
        f"LGSP_BOOTSTRAP_SERVERS={endpoints.bootstrap} ")
    return f"{env}lgsp {args}"


def where_to_look(endpoints: Endpoints, *, trace_id: str | None, once: bool) -> list[str]:
    """The closing block: URLs, ready-made queries, dashboard, commands, logs, how to stop."""
    p = endpoints.prometheus
    lines = [
        "Where to look",
        f"  admin API    {endpoints.gateway}/connectors   (OpenAPI {endpoints.gateway}"
        f"/openapi.json; {_lgsp(endpoints, 'connectors list', admin=True)})",
        f"  console      {endpoints.gateway}/console/   (in a browser; sign in with an API "
        "token, e.g. the first-start admin token)",
        f"  metrics      {endpoints.gateway}/metrics   (stub {endpoints.stub}/metrics, "
        f"stub stats {endpoints.stub}/ndxp/v1/stats)",
        f"  health       {endpoints.gateway}/healthz  {endpoints.gateway}/readyz",
        f"  Prometheus   {p}   (alerts {p}/alerts, targets {p}/targets)",
    ]
    lines.extend(f"    {title:<26} {graph_link(p, expr)}" for title, expr in QUERIES)
    lines.append(f"  Grafana      import {shown(REPO / 'deploy' / 'grafana' / 'lgsp-gateway.json')}"
                 " (data source: the Prometheus above)")
    example = trace_id or "TRANSACTION_ID"
    lines.append(f"  trace one    {_lgsp(endpoints, f'trace {example}')}")
    lines.append(f"  dead letters {_lgsp(endpoints, 'replay --dry-run')}")
    broker = f"; Kafka broker: {shown(endpoints.broker_log)}" if endpoints.broker_log else ""
    lines.append(f"  logs         {shown(endpoints.logs)}/*.log (one per process){broker}")
    if not once:
        lines.append("  stop         Ctrl-C here, or `make demo-stop` from another terminal "
                     "(stops every process the demo started)")
    return lines


def summary_line(numbers: GatewayNumbers, stub: dict[str, Any]) -> str:
    """The periodic one-line state: gateway counters and the stub's view."""
    by_connector = " ".join(f"{name}={value:.0f}" for name, value in numbers.ingested.items())
    return (f"{time.strftime('%H:%M:%S')} ingested={numbers.total_ingested:.0f} "
            f"({by_connector}) delivered={numbers.delivered:.0f} "
            f"dead_lettered={numbers.dead_lettered:.0f} retried={numbers.retried:.0f} "
            f"in_flight={numbers.in_flight:.0f} | stub received={stub.get('received', 0)} "
            f"unique={stub.get('unique', 0)} duplicates={stub.get('duplicates', 0)}")
