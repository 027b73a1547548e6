"""Replay inside the gateway process: one replay at a time, owned tasks.

A real run started through the API runs in a background task owned by this service:
`stop` (gateway shutdown) cancels it, which audits it INTERRUPTED; running the same
filter again resumes it. Runs of this process stay visible with live counts in
`GET /replays/{id}`; every run, from any process, is in the audit trail.
"""

from __future__ import annotations

__all__ = ["ReplayService"]

import asyncio
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence

import structlog

from gateway.admin import RouteSpec
from gateway.admin.limits import ReadLimiter
from gateway.contracts import Codec
from gateway.errors import ReplayBusyError
from gateway.kafka import Producer
from gateway.logs import get_logger
from gateway.replay.api import replay_operations
from gateway.replay.audit import AuditRecord, read_audits
from gateway.replay.engine import Replayer, ReplayRequest, ReplayRun
from gateway.replay.filters import ReplayFilter
from gateway.replay.selection import Selection
from gateway.settings import Settings
from gateway.topics import Topics

_log = get_logger(__name__)
_KEEP_RUNS = 50


class ReplayService:
    """A gateway `Service` and `RouteProvider`: `POST /replays`, `GET /replays[/{id}]`."""

    def __init__(self, settings: Settings, *, producer: Producer, codec: Codec,
                 topics: Topics,
                 selector: Callable[[ReplayFilter], Awaitable[Selection]] | None = None,
                 reads: ReadLimiter | None = None) -> None:
        self._bootstrap = settings.bootstrap_servers
        self._topics = topics
        self._codec = codec
        # With the transaction index, the index selects (gateway/index/selection.py).
        self.replayer = Replayer(settings.bootstrap_servers, topics, codec, producer,
                                 selector=selector)
        self._runs: OrderedDict[str, ReplayRun] = OrderedDict()
        self._task: asyncio.Task[ReplayRun] | None = None
        self._busy = False
        # Shared with trace when the gateway passes one: the bound is per gateway.
        self.reads = reads or ReadLimiter.of(settings)

    async def start(self) -> None:
        """Nothing to start: scans open their own readers when asked."""

    async def stop(self) -> None:
        """Cancel a running replay (it audits itself INTERRUPTED) and wait for it."""
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
            await asyncio.wait({task})

    def ready(self) -> bool:
        """Always ready: replay needs nothing beyond Kafka, which /readyz checks."""
        return True

    def routes(self) -> Sequence[RouteSpec]:
        """The admin API operations of replay."""
        return replay_operations(self)

    # -- what the API handlers call --------------------------------------------------------

    async def preview(self, request: ReplayRequest) -> tuple[ReplayRun, Selection]:
        """A dry run: select, audit as DRY_RUN, send nothing."""
        selection = await self.replayer.select(request.filter)
        run = await self.replayer.dry_run(request, selection)
        self._remember(run)
        return run, selection

    async def launch(self, request: ReplayRequest) -> ReplayRun:
        """Select and start re-submitting in the background; ReplayBusyError if a replay
        of this gateway is still running (one at a time keeps the rate promise)."""
        if self._busy:
            running = next((r.replay_id for r in reversed(self._runs.values())
                            if not r.finished), "one being selected")
            raise ReplayBusyError(f"a replay is already running in this gateway ({running}); "
                                  "wait for it or follow it with GET /replays/{id}")
        self._busy = True
        handed_over = False
        try:
            selection = await self.replayer.select(request.filter)
            run = self.replayer.prepare(request, selection)
            self._remember(run)
            if not selection.eligible:
                return await self.replayer.execute(run)  # nothing to send: audit and answer
            # From here the task owns the flag and clears it when the run ends.
            self._task = asyncio.create_task(self._execute(run),
                                             name=f"replay-{run.replay_id}")
            handed_over = True
            return run
        finally:
            if not handed_over:
                self._busy = False

    async def _execute(self, run: ReplayRun) -> ReplayRun:
        try:
            with structlog.contextvars.bound_contextvars(replay_id=run.replay_id):
                try:
                    return await self.replayer.execute(run)
                except asyncio.CancelledError:
                    raise
                except Exception:  # noqa: BLE001 - logged with traceback; audited FAILED
                    # Already audited FAILED by the engine; the API shows it on GET.
                    _log.exception("replay failed")
                    return run
        finally:
            self._busy = False

    def run(self, replay_id: str) -> ReplayRun | None:
        """A run of this process, with live counts."""
        return self._runs.get(replay_id)

    async def history(self, limit: int) -> list[AuditRecord]:
        """The latest `limit` runs, newest first: the audit trail plus live runs."""
        records = await read_audits(self._bootstrap, self._topics.replay_audit, self._codec)
        for replay_id, run in self._runs.items():
            records[replay_id] = run.audit_record()
        return sorted(records.values(), key=lambda r: r.started_at, reverse=True)[:limit]

    async def audit(self, replay_id: str) -> AuditRecord | None:
        """One run: live if this process runs it, else its latest audit record."""
        live = self._runs.get(replay_id)
        if live is not None:
            return live.audit_record()
        found = await read_audits(self._bootstrap, self._topics.replay_audit, self._codec,
                                  {replay_id})
        return found.get(replay_id)

    def _remember(self, run: ReplayRun) -> None:
        self._runs[run.replay_id] = run
        while len(self._runs) > _KEEP_RUNS:
            self._runs.popitem(last=False)
