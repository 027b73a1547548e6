"""A real Prometheus for the demo: Debian's binary, the repository's scrape config and rules.

deploy/prometheus/prometheus.yml is written for the default ports; the demo writes a
runtime copy under <demo dir>/prometheus/ with the ports it really uses and the rule file
by absolute path, checks it with promtool, and starts `prometheus` on loopback with its
storage beside it.
"""

from __future__ import annotations

__all__ = [
    "REPO",
    "Prometheus",
    "Sample",
    "find_prometheus",
    "graph_link",
    "runtime_config",
]

import asyncio
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp

from devkit.demo.errors import DemoError
from devkit.demo.probes import get_json, wait_until_ok
from devkit.demo.processes import ManagedProcess, environment, run_command

REPO = Path(__file__).resolve().parents[2]
_CONFIG = REPO / "deploy" / "prometheus" / "prometheus.yml"
_RULES = REPO / "deploy" / "prometheus" / "alerts.yml"
_INSTALL_TOOLS = REPO / "scripts" / "install-tools.sh"
# What deploy/prometheus/prometheus.yml says, and the demo rewrites.
_GATEWAY_TARGET = '"127.0.0.1:8083"'
_STUB_TARGET = '"127.0.0.1:8090"'
_RULE_ENTRY = "  - alerts.yml\n"


async def find_prometheus(log_dir: Path) -> str:
    """The `prometheus` binary; installs Debian's package via scripts/install-tools.sh first
    if it is missing. DemoError (one line) when there is still none."""
    found = await asyncio.to_thread(shutil.which, "prometheus")
    if found:
        return found
    log = log_dir / "install-tools.log"
    reason = f"see {log}"
    try:
        await run_command([str(_INSTALL_TOOLS)], env=environment(), log_path=log,
                          timeout_s=900, what="scripts/install-tools.sh")
    except DemoError as exc:
        # The script also installs other checking tools; only Prometheus matters here.
        reason = str(exc)
    found = await asyncio.to_thread(shutil.which, "prometheus")
    if not found:
        raise DemoError("Prometheus is not installed and scripts/install-tools.sh could not "
                        f"install it ({reason}); install Debian's prometheus package")
    return found


def runtime_config(template: str, *, gateway: str, stub: str, rules: Path) -> str:
    """The demo's copy of the scrape config: real targets, rule file by absolute path."""
    text = template
    for old, new in ((_GATEWAY_TARGET, f'"{gateway}"'), (_STUB_TARGET, f'"{stub}"'),
                     (_RULE_ENTRY, f'  - "{rules}"\n')):
        if text.count(old) != 1:
            raise DemoError(f"{_CONFIG} no longer has exactly one {old.strip()!r}; the "
                            "demo rewrites that entry (update devkit/demo/prometheus.py)")
        text = text.replace(old, new)
    return text


def graph_link(base: str, expr: str, *, range_input: str = "15m") -> str:
    """A Prometheus UI link that opens `expr` as a graph."""
    return f"{base}/graph?" + urlencode(
        {"g0.expr": expr, "g0.tab": "0", "g0.range_input": range_input})


@dataclass(frozen=True, slots=True)
class Sample:
    """One element of an instant-vector answer."""

    labels: dict[str, str]
    value: float


class Prometheus:
    """The demo's Prometheus server: config, process, and its HTTP query API."""

    def __init__(self, binary: str, home: Path, port: int, log_dir: Path) -> None:
        self.binary = binary
        self.home = home
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.config_path = home / "prometheus.yml"
        self.process = ManagedProcess(
            "prometheus",
            [binary, f"--config.file={self.config_path}",
             f"--storage.tsdb.path={home / 'data'}",
             f"--web.listen-address=127.0.0.1:{port}",
             "--storage.tsdb.retention.time=2d"],
            env=environment(), log_path=log_dir / "prometheus.log",
        )

    async def write_config(self, *, gateway: str, stub: str, log_dir: Path) -> None:
        """Write and promtool-check the runtime config scraping `gateway` and `stub`."""
        template = await asyncio.to_thread(_CONFIG.read_text, encoding="utf-8")
        text = runtime_config(template, gateway=gateway, stub=stub, rules=_RULES)
        await asyncio.to_thread(self.home.mkdir, parents=True, exist_ok=True)
        await asyncio.to_thread(self.config_path.write_text, text, encoding="utf-8")
        promtool = await asyncio.to_thread(shutil.which, "promtool")
        if promtool:  # same package as prometheus; a clearer error than a failed start
            await run_command([promtool, "check", "config", str(self.config_path)],
                              env=environment(), log_path=log_dir / "promtool.log",
                              timeout_s=60, what="promtool check config")

    async def start(self, session: aiohttp.ClientSession, timeout_s: float = 60.0) -> None:
        """Start the server and wait until it says it is ready."""
        await self.process.start()
        process = self.process

        def alive() -> str | None:
            if process.returncode is None:
                return None
            return f"exited with code {process.returncode} (log {process.log_path})"

        await wait_until_ok(session, f"{self.url}/-/ready", timeout_s=timeout_s,
                            what="Prometheus did not start", alive=alive)

    async def query(self, session: aiohttp.ClientSession, expr: str) -> list[Sample]:
        """An instant query; its samples (labels, value)."""
        answer: dict[str, Any] = await get_json(
            session, f"{self.url}/api/v1/query?" + urlencode({"query": expr}))
        if answer.get("status") != "success":
            raise DemoError(f"Prometheus query {expr!r} failed: {answer.get('error')}")
        return [Sample(dict(item.get("metric", {})), float(item["value"][1]))
                for item in answer["data"]["result"]]

    async def scalar(self, session: aiohttp.ClientSession, expr: str) -> float | None:
        """The value of a one-sample query; None when the answer is empty."""
        samples = await self.query(session, expr)
        return samples[0].value if samples else None

    async def alerts(self, session: aiohttp.ClientSession) -> list[tuple[str, str]]:
        """(alert name, state) of every pending or firing alert; firing wins per name."""
        answer: dict[str, Any] = await get_json(session, f"{self.url}/api/v1/alerts")
        states: dict[str, str] = {}
        for alert in answer.get("data", {}).get("alerts", []):
            name = alert["labels"].get("alertname", "?")
            if states.get(name) != "firing":
                states[name] = alert.get("state", "?")
        return sorted(states.items())
