"""Bounded traffic from the three simulated provincial systems.

- iOffice: the demo asks the running simulator (`lgsp simulate ioffice`) to add documents
  every second through its API; the connector polls them.
- One-stop: `lgsp simulate one-stop` pushes signed dossier events to the webhook, at a
  rate, then exits with a summary line.
- Reporting: `lgsp simulate reporting` drops report files into the watched folder, at a
  rate, then exits with a summary line.
"""

from __future__ import annotations

__all__ = ["Traffic", "TrafficPlan", "TrafficResult", "generate_documents"]

import asyncio
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from devkit.demo.errors import DemoError
from devkit.demo.processes import ManagedProcess

# Shares of the total rate; a report file carries 1 to 3 reports, 2 on average.
_IOFFICE_SHARE = 0.40
_ONE_STOP_SHARE = 0.45
_REPORTING_SHARE = 0.15
_REPORTS_PER_FILE = 2.0
_ONE_STOP_SUMMARY = re.compile(r"^sent=(\d+) accepted=(\d+) .*failed=(\d+)", re.MULTILINE)
_REPORTING_SUMMARY = re.compile(r"^files=(\d+) reports=(\d+) malformed=(\d+)", re.MULTILINE)


@dataclass(frozen=True, slots=True)
class TrafficPlan:
    """How much each system sends per second, for how long."""

    duration_s: float
    ioffice_per_s: float
    one_stop_per_s: float
    report_files_per_s: float

    @classmethod
    def for_rate(cls, duration_s: float, rate: float) -> TrafficPlan:
        """Split `rate` transactions per second across the three systems."""
        return cls(duration_s, rate * _IOFFICE_SHARE, rate * _ONE_STOP_SHARE,
                   rate * _REPORTING_SHARE / _REPORTS_PER_FILE)

    @property
    def documents(self) -> int:
        """iOffice documents to add."""
        return max(1, round(self.ioffice_per_s * self.duration_s))

    @property
    def events(self) -> int:
        """One-stop dossier events to send."""
        return max(1, round(self.one_stop_per_s * self.duration_s))

    @property
    def report_files(self) -> int:
        """Report files to drop."""
        return max(1, round(self.report_files_per_s * self.duration_s))

    def describe(self) -> str:
        """One line for the console."""
        total = self.documents + self.events + round(self.report_files * _REPORTS_PER_FILE)
        return (f"about {total} transactions over {self.duration_s:.0f} s: "
                f"{self.documents} iOffice documents, {self.events} one-stop dossier events, "
                f"{self.report_files} report files (1-3 reports each)")


@dataclass(slots=True)
class TrafficResult:
    """What the simulators say they delivered to the connectors."""

    documents: int = 0
    events: int = 0
    reports: int = 0
    one_stop_summary: str = ""
    reporting_summary: str = ""

    @property
    def total(self) -> int:
        """Transactions the connectors should have published."""
        return self.documents + self.events + self.reports


async def generate_documents(session: aiohttp.ClientSession, ioffice_url: str, token: str,
                             count: int) -> None:
    """Ask the simulated iOffice to add `count` documents now."""
    url = f"{ioffice_url}/api/v1/documents/generate"
    try:
        async with session.post(url, json={"count": count},
                                headers={"Authorization": f"Bearer {token}"}) as response:
            response.raise_for_status()
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise DemoError(f"POST {url} failed: {type(exc).__name__}: {exc}") from exc


class Traffic:
    """Runs the plan: the three systems at once, each at its rate, until done."""

    def __init__(
        self, plan: TrafficPlan, *, session: aiohttp.ClientSession, lgsp: Sequence[str],
        env: Mapping[str, str], logs: Path, ioffice_url: str, ioffice_token: str,
        webhook_url: str, webhook_secret: str, inbox: Path,
    ) -> None:
        self._plan = plan
        self._session = session
        self._lgsp = tuple(lgsp)
        self._env = dict(env)
        self._logs = logs
        self._ioffice_url = ioffice_url
        self._ioffice_token = ioffice_token
        self._webhook_url = webhook_url
        self._webhook_secret = webhook_secret
        self._inbox = inbox

    async def run(self) -> TrafficResult:
        """Drive all three systems; returns once each has sent its share."""
        result = TrafficResult()
        async with asyncio.TaskGroup() as group:
            documents = group.create_task(self._ioffice())
            events = group.create_task(self._one_stop(result))
            reports = group.create_task(self._reporting(result))
        result.documents = documents.result()
        result.events = events.result()
        result.reports = reports.result()
        return result

    async def _ioffice(self) -> int:
        loop = asyncio.get_running_loop()
        started = loop.time()
        sent = 0
        while sent < self._plan.documents:
            await asyncio.sleep(1.0)
            due = min(self._plan.documents,
                      round(self._plan.ioffice_per_s * (loop.time() - started)))
            if due > sent:
                await generate_documents(self._session, self._ioffice_url,
                                         self._ioffice_token, due - sent)
                sent = due
        return sent

    async def _one_stop(self, result: TrafficResult) -> int:
        argv = [*self._lgsp, "simulate", "one-stop", "--target", self._webhook_url,
                "--rate", f"{self._plan.one_stop_per_s:.3f}", "--count", str(self._plan.events),
                "--concurrency", "8"]
        text = await self._run_to_end("one-stop simulator", argv, "one-stop.log",
                                      {"LGSP_WEBHOOK_SECRET": self._webhook_secret})
        found = _ONE_STOP_SUMMARY.search(text)
        if found is None:
            raise DemoError(f"the one-stop simulator printed no summary (log "
                            f"{self._logs / 'one-stop.log'})")
        result.one_stop_summary = found.group(0)
        return int(found.group(2))

    async def _reporting(self, result: TrafficResult) -> int:
        argv = [*self._lgsp, "simulate", "reporting", "--dir", str(self._inbox),
                "--count", str(self._plan.report_files),
                "--rate", f"{self._plan.report_files_per_s:.3f}", "--format", "mixed"]
        text = await self._run_to_end("reporting simulator", argv, "reporting.log", {})
        found = _REPORTING_SUMMARY.search(text)
        if found is None:
            raise DemoError(f"the reporting simulator printed no summary (log "
                            f"{self._logs / 'reporting.log'})")
        result.reporting_summary = found.group(0)
        return int(found.group(2))

    async def _run_to_end(self, name: str, argv: Sequence[str], log: str,
                          extra_env: Mapping[str, str]) -> str:
        process = ManagedProcess(name, argv, env={**self._env, **extra_env},
                                 log_path=self._logs / log)
        try:
            await process.start()
            # Its exit code says whether everything was accepted; the summary line says
            # how much, which is what the demo needs either way.
            await process.wait()
        finally:
            await process.stop()
        return await process.output()
