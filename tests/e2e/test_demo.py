"""`make demo` as a user sees it: the bounded demo (`--once`) on the session broker.

The demo runs as a user starts it (`python -m devkit.demo`), with short durations, its
own state folder, free ports and this test's topic prefix. While it lingers after the
story, the test asks the demo's real Prometheus itself, and opens the URLs the demo
printed. Prometheus is part of the story: if it cannot be started the demo exits 1 and
this test fails; it never skips.
"""

from __future__ import annotations

import asyncio
import os
import re
import socket
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
import pytest

from gateway.topics import Topics
from tests.conftest import BrokerHandle
from tests.support.auth import bearer

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

CONNECTORS = ("ioffice", "one-stop", "reporting")
# Dead letters caused by the national endpoint being down, not by bad data.
# The outage is held, not dead-lettered: the dead letters are the refused data only.
DEAD_LETTER_REASONS = {"RejectedError"}
_URL = r"(http://127\.0\.0\.1:\d+)"


async def _query(session: aiohttp.ClientSession, prometheus: str, expr: str, label: str
                 ) -> dict[str, float]:
    """An instant query through Prometheus' HTTP API: value by the given label."""
    async with session.get(f"{prometheus}/api/v1/query?" + urlencode({"query": expr})) as resp:
        assert resp.status == 200, await resp.text()
        body: dict[str, Any] = await resp.json()
    assert body["status"] == "success", body
    return {item["metric"].get(label, ""): float(item["value"][1])
            for item in body["data"]["result"]}


def _find(pattern: str, text: str) -> re.Match[str]:
    found = re.search(pattern, text, re.MULTILINE)
    assert found, f"{pattern!r} not in the demo's output:\n{text}"
    return found


def _closed(url: str) -> bool:
    host, port = url.removeprefix("http://").split(":")
    try:
        with socket.create_connection((host, int(port)), timeout=1):
            return False
    except OSError:
        return True


async def _look_around(text: str, state: Path) -> None:
    """What a user does with the printed URLs while the demo lingers."""
    # The demo names the admin token's file; the admin API refuses anyone without it.
    assert re.search(r"^  admin token  \S*admin\.token: ", text, re.MULTILINE), text
    auth = bearer(state)
    prometheus = _find(rf"^  Prometheus\s+{_URL}", text).group(1)
    gateway = _find(rf"^  admin API\s+{_URL}/connectors", text).group(1)
    stub = _find(rf"\(stub {_URL}/metrics", text).group(1)
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20)) as session:
        ingested = await _query(session, prometheus,
                                "sum by (connector) (lgsp_ingested_total)", "connector")
        assert set(CONNECTORS) <= set(ingested), ingested
        assert all(ingested[c] > 0 for c in CONNECTORS), ingested
        reasons = await _query(session, prometheus,
                               "sum by (reason) (lgsp_dead_lettered_total)", "reason")
        assert sum(reasons.values()) > 0, "no dead letters in Prometheus"
        assert set(reasons) <= DEAD_LETTER_REASONS, reasons
        up = await _query(session, prometheus, "up", "instance")
        assert up == {gateway.removeprefix("http://"): 1.0, stub.removeprefix("http://"): 1.0}
        async with session.get(f"{prometheus}/api/v1/rules") as resp:
            groups = {g["name"] for g in (await resp.json())["data"]["groups"]}
        assert {"lgsp-gateway.delivery", "lgsp-gateway.pipeline"} <= groups, groups
        for url in (f"{gateway}/metrics", f"{gateway}/readyz",
                    f"{stub}/ndxp/v1/stats", f"{stub}/metrics"):
            async with session.get(url) as resp:
                assert resp.status == 200, url
        async with session.get(f"{gateway}/connectors") as resp:
            assert resp.status == 401, "the admin API answers nobody without a token"
            assert resp.headers["WWW-Authenticate"].startswith("Bearer")
        async with session.get(f"{gateway}/connectors", headers=auth) as resp:
            assert resp.status == 200
            assert set(await resp.json()) >= set(CONNECTORS)


async def test_bounded_demo_tells_the_whole_story(
    kafka: BrokerHandle, topics: Topics, tmp_path: Path
) -> None:
    home = tmp_path / "demo"
    env = {
        **os.environ,
        "LGSP_STATE_DIR": str(tmp_path / "state"),
        "LGSP_TOPIC_PREFIX": topics.prefix,
        "LGSP_DEMO_LINGER": "20",
    }
    argv = [sys.executable, "-m", "devkit.demo", "--once", "--dir", str(home),
            "--bootstrap-servers", kafka.bootstrap, "--duration", "30", "--outage", "12",
            "--rate", "30", "--idle-rate", "0"]
    for option in ("gateway", "stub", "prometheus", "ioffice", "webhook"):
        argv += [f"--{option}-port", "0"]
    stderr_path = tmp_path / "demo.stderr"
    with await asyncio.to_thread(stderr_path.open, "wb") as stderr:
        proc = await asyncio.create_subprocess_exec(
            *argv, env=env, stdout=asyncio.subprocess.PIPE, stderr=stderr)
    lines: list[str] = []
    try:
        assert proc.stdout is not None
        async with asyncio.timeout(200):
            while raw := await proc.stdout.readline():
                lines.append(raw.decode().rstrip("\n"))
                if lines[-1].startswith("--once: holding"):
                    await _look_around("\n".join(lines), tmp_path / "state")
                    break
            rest, _ = await proc.communicate()
            lines.extend(rest.decode().splitlines())
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    text = "\n".join(lines)
    errors = await asyncio.to_thread(stderr_path.read_text)
    assert proc.returncode == 0, f"{text}\n--- stderr ---\n{errors}"
    assert "Traceback" not in errors

    # What Prometheus answered, as the demo printed it.
    ingested = _find(r"ingested by connector: (.*)$", text).group(1)
    counts = dict(pair.split("=") for pair in ingested.split())
    assert set(counts) == set(CONNECTORS) and all(int(v) > 0 for v in counts.values()), text
    assert int(_find(r"dead letters: (\d+)", text).group(1)) > 0, text
    _find(r"national endpoint DOWN.*held, not dead-lettered", text)
    _find(r"national endpoint back UP: the held transactions flow again by themselves", text)
    assert max(int(n) for n in re.findall(r"held=(\d+)", text)) > 0, text
    _find(r"refuses 5% of the data", text)
    # Where to look.
    for pattern in (rf"admin API\s+{_URL}/connectors", rf"console\s+{_URL}/console/",
                    rf"metrics\s+{_URL}/metrics",
                    rf"Prometheus\s+{_URL}", r"/graph\?g0\.expr=", r"lgsp_transactions_total",
                    r"Grafana\s+import \S*deploy/grafana/lgsp-gateway\.json",
                    r"lgsp trace [0-9a-f-]{36}", r"logs\s+\S+/logs/\*\.log"):
        _find(pattern, text)
    assert text.rstrip().endswith("demo stopped"), text
    logs = {p.name for p in (home / "logs").glob("*.log")}
    assert {"gateway.log", "stub.log", "prometheus.log", "ioffice.log", "one-stop.log",
            "reporting.log", "connectors.log"} <= logs, logs
    # Nothing it started is left listening.
    for url in set(re.findall(_URL, text)):
        assert await asyncio.to_thread(_closed, url), f"{url} still answers after the demo"
