"""The operator kit against live processes, not just the registries' declarations.

- Every metric name the Grafana dashboard (panels and variables) and the alert rules use
  is exposed by a running gateway (`lgsp run`) or stub (`lgsp stub`), and has samples
  once transactions flowed, were delivered and were dead-lettered.
- /healthz and /readyz of both processes tell the truth: the gateway is not ready while
  its Kafka broker is down (503 within 15 s) and ready again once it is back; the stub is
  not ready while its national endpoint is faulted down.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from devkit.demo.processes import ManagedProcess
from devkit.localkafka import LocalBroker, free_port
from devkit.simulators.reporting import ReportWriter
from gateway.topics import Topics
from tests.conftest import BrokerHandle
from tests.deploy.metric_names import (
    exposed_metric_names,
    promql_metric_names,
    unknown_metric_names,
)
from tests.deploy.paths import ALERTS, DASHBOARD, REPO
from tests.support.auth import bearer
from tests.support.cli import LGSP
from tests.support.processes import TEST_CLIENT_SECRET
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

_GATEWAY_READY = re.compile(r"gateway ready: admin API (http://\S+)")
_STUB_READY = re.compile(r"NDXP stub listening on (http://\S+)")
_LABEL_VALUES = re.compile(r"label_values\(\s*([A-Za-z_:][\w:]*)\s*,")
# Names Prometheus itself adds to every scrape target.
_SYNTHETIC = frozenset({"up"})
# Used by the dashboard, exposed (HELP/TYPE) by the live processes, but without samples
# until something this test does not do: a replay run inside the gateway process (the
# admin API's POST /replays), a repeated Idempotency-Key at the stub, a lookup before a
# resend (an unanswered send, a router crash, a replay).
_SAMPLED_ONLY_LATER = frozenset({"lgsp_replayed_total", "lgsp_stub_duplicates_total",
                                 "lgsp_reconciliations_total"})


# --- what the operator kit queries ----------------------------------------------------

def _dashboard_exprs() -> list[str]:
    """Every PromQL expression of the dashboard: panel targets and query variables."""
    dashboard: dict[str, Any] = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    exprs: list[str] = []

    def panels(items: Sequence[dict[str, Any]]) -> None:
        for panel in items:
            exprs.extend(t["expr"] for t in panel.get("targets", []) if t.get("expr"))
            panels(panel.get("panels", []))

    panels(dashboard["panels"])
    for variable in dashboard.get("templating", {}).get("list", []):
        if variable.get("type") != "query":
            continue
        query = variable.get("query")
        text = query.get("query", "") if isinstance(query, dict) else str(query or "")
        found = _LABEL_VALUES.search(text)
        exprs.append(found.group(1) if found else text)
    return exprs


def _alert_exprs() -> list[str]:
    rules: dict[str, Any] = yaml.safe_load(ALERTS.read_text(encoding="utf-8"))
    return [rule["expr"] for group in rules["groups"] for rule in group["rules"]]


def _sampled_names(exposition: str) -> frozenset[str]:
    """Names that have at least one sample (not just a HELP/TYPE declaration)."""
    return frozenset(sample.name for family in text_string_to_metric_families(exposition)
                     for sample in family.samples)


# --- live processes ----------------------------------------------------------------------

@asynccontextmanager
async def _serving(name: str, argv: Sequence[str], env: Mapping[str, str], log: Path,
                   ready: re.Pattern[str]) -> AsyncIterator[str]:
    """A server process until its ready line; yields its URL; always stopped (SIGTERM)."""
    process = ManagedProcess(name, argv, env=env, log_path=log)
    await process.start()
    try:
        found = await process.wait_for_line(ready, 90)
        yield found.group(1)
    finally:
        code = await process.stop()
        assert code == 0, f"{name} exited {code} on SIGTERM; see {log}"


async def _get(session: aiohttp.ClientSession, url: str) -> tuple[int, str]:
    async with session.get(url) as response:
        return response.status, await response.text()


async def _samples(session: aiohttp.ClientSession, url: str, name: str,
                   **labels: str) -> float:
    """Sum of the samples of `name` with these labels on a live /metrics."""
    _, text = await _get(session, f"{url}/metrics")
    return sum(s.value for f in text_string_to_metric_families(text) for s in f.samples
               if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()))


async def _until(probe: Callable[[], Any], what: str, timeout_s: float = 60.0) -> Any:
    return await wait_for(probe, bool, timeout_s=timeout_s, interval_s=0.3, what=what)


async def _faults(session: aiohttp.ClientSession, stub: str, **faults: float | bool) -> None:
    async with session.put(f"{stub}/ndxp/v1/faults", json=faults) as response:
        assert response.status == 200, await response.text()


# --- tests -------------------------------------------------------------------------------

async def test_every_dashboard_and_alert_metric_is_live(
    kafka: BrokerHandle, topics: Topics, tmp_path: Path
) -> None:
    env = {
        **os.environ,
        "LGSP_BOOTSTRAP_SERVERS": kafka.bootstrap,
        "LGSP_TOPIC_PREFIX": topics.prefix,
        "LGSP_LOG_FORMAT": "json",
        "LGSP_CONNECTOR_FILES__ROOT": str(tmp_path),
        "LGSP_STATE_DIR": str(tmp_path / "state"),
        # One attempt, and report lag every second: the series an operator sees during
        # an outage, without waiting out the production retries.
        "LGSP_ROUTER__MAX_ATTEMPTS": "1",
        "LGSP_ROUTER__LAG_INTERVAL_S": "1",
        "LGSP_NDXP__CLIENT_SECRET": TEST_CLIENT_SECRET,
    }
    drop = tmp_path / "drop"
    drop.mkdir()
    stub_argv = [LGSP, "stub", "--port", "0", "--data-dir", str(tmp_path / "stub"),
                 "--no-fsync"]
    async with _serving("stub", stub_argv, env, tmp_path / "stub.log", _STUB_READY) as stub, \
            _serving("gateway", [LGSP, "run", "--port", "0"], {**env, "LGSP_NDXP__URL": stub},
                     tmp_path / "gateway.log", _GATEWAY_READY) as gateway, \
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20)) as session:
        for url in (f"{gateway}/healthz", f"{gateway}/readyz", f"{stub}/healthz",
                    f"{stub}/readyz"):
            assert (await _get(session, url))[0] == 200, url
        config = {"connector.class": "reporting", "source.agency.code": "000.00.00.H12",
                  "watch.dir": str(drop), "poll.interval.ms": "200", "file.min.age.ms": "0"}
        async with session.post(f"{gateway}/connectors",
                                json={"name": "reports", "config": config},
                                headers=bearer(tmp_path / "state")) as response:
            assert response.status == 201, await response.text()
        writer = ReportWriter(drop, seed=7)

        await writer.write(3)
        await _until(lambda: _samples(session, gateway, "lgsp_transactions_total",
                                      outcome="delivered"), "a delivered transaction")
        await _faults(session, stub, down=True)
        status, body = await _get(session, f"{stub}/readyz")
        assert status == 503, body
        await writer.write(2)
        await _until(lambda: _samples(session, gateway, "lgsp_transactions_total",
                                      outcome="held"), "a held transaction (outage)")
        await _faults(session, stub, down=False)
        assert (await _get(session, f"{stub}/readyz"))[0] == 200
        # Refused data dead-letters (an outage no longer does).
        await _faults(session, stub, reject_rate=1.0)
        await writer.write(2)
        await _until(lambda: _samples(session, gateway, "lgsp_dead_lettered_total"),
                     "a dead-lettered transaction")
        await _faults(session, stub, reject_rate=0.0)
        await _until(lambda: _has_lag_series(session, gateway), "consumer lag series",
                     timeout_s=30)

        gateway_text = (await _get(session, f"{gateway}/metrics"))[1]
        stub_text = (await _get(session, f"{stub}/metrics"))[1]

    exprs = _dashboard_exprs() + _alert_exprs()
    exposed = exposed_metric_names(gateway_text) | exposed_metric_names(stub_text)
    assert unknown_metric_names(exprs, exposed, allowed=_SYNTHETIC) == {}
    used = frozenset().union(*(promql_metric_names(e) for e in exprs)) - _SYNTHETIC
    sampled = _sampled_names(gateway_text) | _sampled_names(stub_text)
    assert used - sampled <= _SAMPLED_ONLY_LATER, sorted(used - sampled)
    # The views a dashboard cannot do without are among them.
    assert {"lgsp_transactions_total", "lgsp_dead_lettered_total", "lgsp_ingested_total",
            "lgsp_forward_duration_seconds_bucket", "lgsp_circuit_state",
            "lgsp_consumer_lag", "lgsp_connector_state", "lgsp_stub_requests_total"} <= used


async def _has_lag_series(session: aiohttp.ClientSession, gateway: str) -> bool:
    _, text = await _get(session, f"{gateway}/metrics")
    return "lgsp_consumer_lag{" in text


async def test_gateway_readiness_follows_its_kafka_broker(tmp_path: Path) -> None:
    broker = LocalBroker(tmp_path / "kafka", lib_cache=REPO / ".lgsp" / "cache" / "kafka",
                         port=free_port(), controller_port=free_port())
    bootstrap = await broker.up(die_with_parent=True)
    env = {
        **os.environ,
        "LGSP_BOOTSTRAP_SERVERS": bootstrap,
        "LGSP_TOPIC_PREFIX": Topics().prefix,
        "LGSP_LOG_FORMAT": "json",
        "LGSP_NDXP__URL": f"http://127.0.0.1:{free_port()}",
        "LGSP_NDXP__CLIENT_SECRET": TEST_CLIENT_SECRET,
        "LGSP_STATE_DIR": str(tmp_path / "state"),
    }
    try:
        async with _serving("gateway", [LGSP, "run", "--port", "0"], env,
                            tmp_path / "gateway.log", _GATEWAY_READY) as gateway, \
                aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
            assert (await _get(session, f"{gateway}/readyz"))[0] == 200
            assert await _samples(session, gateway, "lgsp_kafka_ready") == 1

            await broker.down()
            stopped = time.monotonic()

            async def readiness() -> tuple[int, str]:
                return await _get(session, f"{gateway}/readyz")

            _, body = await wait_for(readiness, lambda r: r[0] == 503, timeout_s=15,
                                     interval_s=0.2, what="/readyz 503 without Kafka")
            assert "not ready" in body, body
            assert time.monotonic() - stopped <= 15
            assert (await _get(session, f"{gateway}/healthz"))[0] == 200, "still alive"
            assert await _samples(session, gateway, "lgsp_kafka_ready") == 0

            await broker.up(die_with_parent=True)
            await wait_for(readiness, lambda r: r[0] == 200, timeout_s=60, interval_s=0.5,
                           what="/readyz 200 with Kafka back")
            assert await _samples(session, gateway, "lgsp_kafka_ready") == 1
    finally:
        await broker.down()
