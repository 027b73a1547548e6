"""The demo's three connectors, registered the way an integrator does it: `lgsp connectors`.

Each config is written to <demo dir>/connectors/<name>.json (Kafka Connect style, readable
by the owner only: it holds the demo's secrets) and sent with `lgsp connectors create
--file` — or `lgsp connectors config NAME --file` when a kept broker still has the
connector from an earlier run, which replaces its config.
"""

from __future__ import annotations

__all__ = ["DemoConnector", "demo_connectors", "register_connectors", "wait_running"]

import asyncio
import json
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from devkit.demo.errors import DemoError
from devkit.demo.probes import get_json
from devkit.demo.processes import run_command

# Ca Mau's provincial agency code (Decision 20/2020/QD-TTg) for every demo system.
_AGENCY = "000.00.00.H12"


@dataclass(frozen=True, slots=True)
class DemoConnector:
    """One connector: its name and flat config."""

    name: str
    config: dict[str, str]

    @property
    def plugin(self) -> str:
        """The connector.class."""
        return self.config["connector.class"]


def demo_connectors(*, ioffice_url: str, ioffice_token: str, webhook_port: int,
                    webhook_secret: str, inbox: Path) -> list[DemoConnector]:
    """iOffice (API poll), one-stop (signed webhook) and reporting (file drop)."""
    return [
        DemoConnector("ioffice", {
            "connector.class": "ioffice", "source.agency.code": _AGENCY,
            "api.url": ioffice_url, "api.auth.type": "bearer", "api.token": ioffice_token,
            "poll.interval.ms": "1000", "retry.backoff.max.ms": "5000",
        }),
        DemoConnector("one-stop", {
            "connector.class": "one-stop", "source.agency.code": _AGENCY,
            "listen.host": "127.0.0.1", "listen.port": str(webhook_port),
            "webhook.secret": webhook_secret,
        }),
        DemoConnector("reporting", {
            "connector.class": "reporting", "source.agency.code": _AGENCY,
            "watch.dir": str(inbox), "poll.interval.ms": "1000", "file.min.age.ms": "200",
            "retry.backoff.max.ms": "5000",
        }),
    ]


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)


async def register_connectors(
    connectors: Sequence[DemoConnector], *, session: aiohttp.ClientSession, admin_url: str,
    lgsp: Sequence[str], env: Mapping[str, str], files: Path, log: Path,
    headers: Mapping[str, str] | None = None,
) -> list[str]:
    """Create (or re-configure) each connector with the CLI (which finds the gateway's
    admin token by itself); the commands, as run. `headers` carry the admin token."""
    existing: Any = await get_json(session, f"{admin_url}/connectors", headers=headers)
    commands = []
    for connector in connectors:
        path = files / f"{connector.name}.json"
        body = json.dumps({"name": connector.name, "config": connector.config}, indent=2)
        await asyncio.to_thread(_write_private, path, body + "\n")
        if connector.name in existing:
            argv = [*lgsp, "connectors", "config", connector.name, "--file", str(path)]
        else:
            argv = [*lgsp, "connectors", "create", "--file", str(path)]
        await run_command([*argv, "--url", admin_url], env=env, log_path=log, timeout_s=60,
                          what=f"registering connector {connector.name}")
        commands.append(" ".join(["lgsp", *argv[len(lgsp):]]))
    return commands


async def wait_running(session: aiohttp.ClientSession, admin_url: str, names: Sequence[str],
                       *, timeout_s: float = 30.0,
                       headers: Mapping[str, str] | None = None) -> None:
    """Wait until every connector is RUNNING; a FAILED one is a DemoError with its reason."""
    deadline = time.monotonic() + timeout_s
    pending = list(names)
    while pending:
        for name in list(pending):
            status = await get_json(session, f"{admin_url}/connectors/{name}/status",
                                    headers=headers)
            state = status.get("connector", {}).get("state")
            if state == "RUNNING":
                pending.remove(name)
            elif state == "FAILED":
                trace = str(status["connector"].get("trace") or "no reason given")
                raise DemoError(f"connector {name} FAILED: {trace.splitlines()[0]}")
        if pending and time.monotonic() > deadline:
            raise DemoError(f"connectors not RUNNING within {timeout_s:.0f} s: "
                            f"{', '.join(pending)} (see `lgsp connectors status NAME`)")
        if pending:
            await asyncio.sleep(0.2)
