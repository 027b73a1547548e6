"""The built-in connectors' contract harnesses, over the development kit's simulators.

Registered like any plugin's, under the `lgsp.harnesses` entry-point group (see
devkit/pyproject.toml), so the installed contract suite (`gateway.testing.contract`)
finds them. Each starts the plugin's simulator, gives a valid config, makes N new
records appear at the source (`feed`), and presents already-fed records again as the
source would after a crash (`redeliver`).
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from connectors.one_stop.connector import OneStopConnector
from devkit.simulators.ioffice import IOfficeSimulator
from devkit.simulators.json_list import ReportPortalSimulator, portal_connector_config
from devkit.simulators.one_stop import DossierEventSender
from devkit.simulators.reporting import ReportWriter
from gateway.testing.rig import Running

AGENCY = "000.00.00.H12"
WEBHOOK_SECRET = "contract-suite-webhook-secret"  # noqa: S105 - a fake system's secret
IOFFICE_TOKEN = "contract-suite-token"  # noqa: S105 - a fake system's token


class IOfficeHarness:
    """Documents added to a simulated iOffice; page size 7 so groups straddle pages."""

    message_type: ClassVar[str] = "ioffice.document"
    bad_values: ClassVar[Mapping[str, Any]] = {
        "api.url": "ftp://ioffice.example", "page.size": 0, "api.auth.type": "basic",
    }

    def __init__(self) -> None:
        self.sim = IOfficeSimulator(seed=7, token=IOFFICE_TOKEN)

    async def open(self, tmp_path: Path) -> None:
        await self.sim.start()

    async def close(self) -> None:
        await self.sim.stop()

    def config(self) -> dict[str, Any]:
        return {"connector.class": "ioffice", "source.agency.code": AGENCY,
                "api.url": self.sim.url, "api.token": IOFFICE_TOKEN,
                "poll.interval.ms": 100, "page.size": 7}

    async def feed(self, running: Running, count: int) -> None:
        # All in one call: they share one timestamp, a group bigger than a page.
        self.sim.generate(count)

    async def redeliver(self, running: Running) -> None:
        # Nothing to do: a connector started from an older position reads them again.
        return None


class OneStopHarness:
    """Signed events pushed by the simulated one-stop system to the running webhook."""

    message_type: ClassVar[str] = "onestop.dossier_event"
    bad_values: ClassVar[Mapping[str, Any]] = {
        "webhook.secret": "too-short", "listen.port": 70_000, "webhook.max.batch": 0,
    }

    def __init__(self) -> None:
        self._sent: list[dict[str, Any]] = []
        self._seed = 11

    async def open(self, tmp_path: Path) -> None:
        return None

    async def close(self) -> None:
        return None

    def config(self) -> dict[str, Any]:
        return {"connector.class": "one-stop", "source.agency.code": AGENCY,
                "listen.port": 0, "webhook.secret": WEBHOOK_SECRET}

    async def feed(self, running: Running, count: int) -> None:
        self._seed += 1
        sender = DossierEventSender(_webhook(running), WEBHOOK_SECRET, concurrency=4,
                                    seed=self._seed, keep_sent=True)
        summary = await sender.send(count)
        assert summary.accepted == count, summary.line()
        self._sent.extend(sender.sent_events)

    async def redeliver(self, running: Running) -> None:
        # The one-stop system never saw our answers (we crashed): it sends them again.
        sender = DossierEventSender(_webhook(running), WEBHOOK_SECRET)
        summary = await sender.resend(self._sent)
        assert summary.accepted == len(self._sent), summary.line()


class ReportingHarness:
    """Report files written atomically into the watched folder."""

    message_type: ClassVar[str] = "reporting.report_submission"
    bad_values: ClassVar[Mapping[str, Any]] = {
        "poll.interval.ms": 0, "file.min.age.ms": -1, "file.max.bytes": "big",
    }

    def __init__(self) -> None:
        self.dir = Path()
        self._written: list[str] = []
        self._writer: ReportWriter | None = None

    async def open(self, tmp_path: Path) -> None:
        self.dir = tmp_path / "drop"
        self.dir.mkdir()
        self._writer = ReportWriter(self.dir, seed=5)

    async def close(self) -> None:
        return None

    def config(self) -> dict[str, Any]:
        return {"connector.class": "reporting", "source.agency.code": AGENCY,
                "watch.dir": str(self.dir), "poll.interval.ms": 100, "file.min.age.ms": 0}

    async def feed(self, running: Running, count: int) -> None:
        assert self._writer is not None
        left = count
        while left:
            written = await self._writer.write_file(min(left, 3))
            self._written.append(written.path.name)
            left -= written.reports

    async def redeliver(self, running: Running) -> None:
        # A crash between emit and the move to processed/: the files are still there.
        await asyncio.to_thread(self._restore)

    def _restore(self) -> None:
        for name in self._written:
            tmp = self.dir / f".{name}.tmp"
            shutil.copyfile(self.dir / "processed" / name, tmp)
            tmp.rename(self.dir / name)


def _webhook(running: Running) -> str:
    assert isinstance(running.connector, OneStopConnector)
    return running.connector.webhook_url


class RestPollHarness:
    """Submissions added to the simulated report portal, read by a JSON-only config."""

    message_type: ClassVar[str] = "reporting.report_submission"
    bad_values: ClassVar[Mapping[str, Any]] = {
        "page.size": 0, "cursor.field": "a..b", "message.type": "no.such.type",
        "payload.mapping": {"no_such_field": "id"},
    }

    def __init__(self) -> None:
        self.sim = ReportPortalSimulator(seed=13, token=IOFFICE_TOKEN)

    async def open(self, tmp_path: Path) -> None:
        await self.sim.start()

    async def close(self) -> None:
        await self.sim.stop()

    def config(self) -> dict[str, Any]:
        return portal_connector_config(self.sim.list_url, AGENCY, token=IOFFICE_TOKEN)

    async def feed(self, running: Running, count: int) -> None:
        self.sim.generate(count)

    async def redeliver(self, running: Running) -> None:
        # Nothing to do: a connector started from an older position reads them again.
        return None
