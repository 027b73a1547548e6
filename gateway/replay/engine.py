"""One replay run from selection to verdict, shared by `lgsp replay` and `POST /replays`.

`Replayer.select` decides (see selection.py); `dry_run` only audits the decision;
`run` audits STARTED, re-submits at the requested rate (submit.py), waits bounded for
the router's ledger outcomes (watch.py) and audits how it ended. A run stopped part-way
(Ctrl-C, shutdown, SIGKILL) needs no clean-up: running the same filter again selects
exactly what was not re-submitted yet.
"""

from __future__ import annotations

__all__ = ["ReplayListener", "ReplayRequest", "ReplayRun", "Replayer", "new_replay_id"]

import asyncio
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import structlog

from gateway.contracts import Codec
from gateway.errors import ConfigError, GatewayError, KafkaError
from gateway.kafka import KafkaAdmin, Producer
from gateway.logs import get_logger
from gateway.metrics import REPLAYED
from gateway.replay.audit import AuditLog, AuditRecord, AuditStatus
from gateway.replay.filters import ReplayFilter
from gateway.replay.ratelimit import TokenBucket
from gateway.replay.selection import Selection, select
from gateway.replay.submit import SubmitProgress, resubmit
from gateway.replay.watch import OutcomeTally, watch_outcomes
from gateway.topics import Topics

_log = get_logger(__name__)
_AUDIT_TIMEOUT_S = 10.0


def new_replay_id(now: datetime | None = None) -> str:
    """A sortable, readable, unique replay id: rp-20261102T083000Z-1a2b3c."""
    moment = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    return f"rp-{moment}-{secrets.token_hex(3)}"


@dataclass(frozen=True, slots=True)
class ReplayRequest:
    """What an operator asked for."""

    filter: ReplayFilter
    operator: str
    origin: str
    rate: float = 50.0
    wait_s: float = 60.0
    dry_run: bool = False


class ReplayListener:
    """Told about a run's progress (the CLI draws a progress bar); defaults do nothing."""

    def submitted(self, run: ReplayRun, transaction_id: str) -> None:
        """Kafka acknowledged one re-submission."""

    def waiting(self, run: ReplayRun) -> None:
        """Every re-submission is acknowledged; waiting for outcomes begins."""

    def outcomes(self, run: ReplayRun) -> None:
        """New outcomes arrived."""


@dataclass(slots=True)
class ReplayRun:
    """A replay run's live state, and its report once finished."""

    replay_id: str
    request: ReplayRequest
    selection: Selection
    status: AuditStatus
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    finished_at: datetime | None = None
    progress: SubmitProgress = field(default_factory=SubmitProgress)
    tally: OutcomeTally = field(default_factory=OutcomeTally)
    waited: bool = False
    message: str | None = None

    @property
    def replayed(self) -> int:
        """Re-submissions acknowledged by Kafka."""
        return len(self.progress.submitted)

    @property
    def pending(self) -> list[str]:
        """Re-submitted ids without an outcome (yet)."""
        return self.tally.pending(self.progress.submitted)

    @property
    def finished(self) -> bool:
        """Whether the run has ended (any way)."""
        return self.finished_at is not None

    def summary(self) -> str:
        """The one-line summary printed at the end of a run."""
        sel = self.selection
        parts = [f"replayed {self.replayed}", f"delivered {len(self.tally.delivered)}",
                 f"failed again {len(self.tally.failed_again)}",
                 f"skipped as already delivered {len(sel.already_delivered)}"]
        if sel.already_submitted:
            parts.append(f"skipped as already submitted {len(sel.already_submitted)}")
        pending = len(self.pending)
        if pending:
            parts.append(f"still pending {pending}" if self.waited
                         else f"pending {pending} (outcomes not awaited)")
        if self.progress.missing:
            parts.append(f"gone from the dead-letter topic {len(self.progress.missing)}")
        return f"replay {self.replay_id}: " + ", ".join(parts)

    def audit_record(self) -> AuditRecord:
        """The audit record of the run's current state."""
        sel = self.selection
        req = self.request
        record = AuditRecord(
            replay_id=self.replay_id, status=self.status, dry_run=req.dry_run,
            operator=req.operator, origin=req.origin, started_at=self.started_at,
            finished_at=self.finished_at, filter=req.filter, rate_per_s=req.rate,
            matched=sel.matched, selected=len(sel.eligible),
            skipped_delivered=len(sel.already_delivered),
            skipped_submitted=len(sel.already_submitted), replayed=self.replayed,
            delivered=len(self.tally.delivered), failed_again=len(self.tally.failed_again),
            pending=len(self.pending), message=self.message,
        )
        if self.status in (AuditStatus.DRY_RUN, AuditStatus.STARTED):
            record.set_ids([d.transaction_id for d in sel.eligible])
        else:
            record.set_ids(self.progress.submitted)
        return record


class Replayer:
    """Selects, re-submits, waits and audits; one instance serves many runs."""

    def __init__(self, bootstrap_servers: str, topics: Topics, codec: Codec,
                 producer: Producer, *,
                 selector: Callable[[ReplayFilter], Awaitable[Selection]] | None = None
                 ) -> None:
        self._bootstrap = bootstrap_servers
        # The transaction index selects when there is one (gateway/index/selection.py).
        self._selector = selector
        self._topics = topics
        self._codec = codec
        self._producer = producer
        self._audit = AuditLog(producer, topics.replay_audit, codec)

    async def check_topics(self) -> None:
        """ConfigError (one line) if a topic replay needs is missing: wrong prefix, or the
        gateway never ran against this cluster."""
        admin = KafkaAdmin(self._bootstrap, client_id="lgsp-replay-admin")
        await admin.start()
        try:
            existing = await admin.list_topics()
        finally:
            await admin.stop()
        t = self._topics
        missing = [n for n in (t.dead_letter, t.replay, t.ledger, t.replay_audit)
                   if n not in existing]
        if missing:
            raise ConfigError(
                f"topic {missing[0]} does not exist on {self._bootstrap}: check the topic "
                f"prefix ({t.prefix!r}, LGSP_TOPIC_PREFIX) and that the gateway (lgsp run) "
                "has started once against this cluster")

    async def select(self, flt: ReplayFilter) -> Selection:
        """Decide what a replay with this filter would re-submit (see selection.py)."""
        await self.check_topics()
        if self._selector is not None:
            return await self._selector(flt)
        return await select(self._bootstrap, self._topics, self._codec, flt)

    async def dry_run(self, request: ReplayRequest, selection: Selection) -> ReplayRun:
        """Audit a dry run (nothing is re-submitted) and return it."""
        run = ReplayRun(new_replay_id(), request, selection, AuditStatus.DRY_RUN)
        run.finished_at = run.started_at
        await self._audit.write(run.audit_record())
        return run

    def prepare(self, request: ReplayRequest, selection: Selection) -> ReplayRun:
        """A run ready to `execute` (its id is known before anything is sent)."""
        return ReplayRun(new_replay_id(), request, selection, AuditStatus.STARTED)

    async def execute(self, run: ReplayRun, listener: ReplayListener | None = None) -> ReplayRun:
        """Re-submit, wait for outcomes (bounded), audit; re-raises what stopped it."""
        listener = listener or ReplayListener()
        sel = run.selection
        with structlog.contextvars.bound_contextvars(replay_id=run.replay_id):
            if not sel.eligible:
                # Nothing to send (all delivered or already submitted): one record says so.
                run.status = AuditStatus.COMPLETED
                await self._finish(run, None, None, strict=True)
                return run
            await self._audit.write(run.audit_record())
            _log.info("replay started", operator=run.request.operator,
                      filter=run.request.filter.describe(), selected=len(sel.eligible),
                      rate=run.request.rate)
            try:
                await resubmit(
                    self._bootstrap, producer=self._producer, topics=self._topics,
                    selection=sel, replay_id=run.replay_id,
                    bucket=TokenBucket(run.request.rate), progress=run.progress,
                    on_acked=lambda tx: self._acked(run, listener, tx))
                run.status = AuditStatus.COMPLETED
                if run.request.wait_s > 0 and run.progress.submitted:
                    run.waited = True
                    listener.waiting(run)
                    await watch_outcomes(
                        self._bootstrap, ledger_topic=self._topics.ledger, codec=self._codec,
                        replay_id=run.replay_id, ids=run.progress.submitted,
                        start=sel.ledger_positions, timeout_s=run.request.wait_s, tally=run.tally,
                        on_change=lambda _t: listener.outcomes(run))
            except asyncio.CancelledError:
                await self._finish(run, None if run.status is AuditStatus.COMPLETED
                                   else AuditStatus.INTERRUPTED, "interrupted")
                raise
            except GatewayError as exc:
                await self._finish(run, None if run.status is AuditStatus.COMPLETED
                                   else AuditStatus.FAILED, str(exc))
                raise
            await self._finish(run, None, None, strict=True)
        return run

    def _acked(self, run: ReplayRun, listener: ReplayListener, tx: str) -> None:
        REPLAYED.labels(result="replayed").inc()
        listener.submitted(run, tx)

    async def _finish(self, run: ReplayRun, status: AuditStatus | None,
                      message: str | None, *, strict: bool = False) -> None:
        """End the run and audit it. `strict`: an audit write failure is raised (a run
        that ends normally must not look successful unaudited); otherwise it is logged,
        as the error or cancellation that ended the run is what the caller must see."""
        if status is not None:
            run.status = status
        if message is not None:
            done, total = run.replayed, len(run.selection.eligible)
            run.message = f"{message} after re-submitting {done} of {total}"
        run.finished_at = datetime.now(UTC)
        sel = run.selection
        for result, count in (("delivered", len(run.tally.delivered)),
                              ("failed_again", len(run.tally.failed_again)),
                              ("skipped_delivered", len(sel.already_delivered)),
                              ("skipped_submitted", len(sel.already_submitted))):
            if count:
                REPLAYED.labels(result=result).inc(count)
        _log.info("replay finished", status=run.status.value, summary=run.summary())
        try:
            # Bounded: a broker gone for good must not keep an interrupted CLI hanging.
            async with asyncio.timeout(_AUDIT_TIMEOUT_S):
                await self._audit.write(run.audit_record())
        except (KafkaError, TimeoutError) as exc:
            if strict:
                raise KafkaError(f"replay {run.replay_id} ended ({run.summary()}) but its "
                                 f"audit record could not be written: {exc}") from exc
            _log.error("replay audit record could not be written", status=run.status.value,
                       error=str(exc) or "timed out")
