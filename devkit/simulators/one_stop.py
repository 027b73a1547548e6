"""A simulated one-stop system: pushes signed dossier events to the webhook, like the real one.

Each dossier goes through its life in order (RECEIVED -> PROCESSING -> [SUPPLEMENT_REQUESTED
-> PROCESSING] -> COMPLETED -> RESULT_ISSUED, or REJECTED on the way); one worker owns a
dossier, so its events are sent in order and the next only once the previous was answered.
A timeout, connection error, 429 or 5xx is retried with backoff, sending the same bytes
again: the event keeps its id, which is how duplicates arise in real life.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import aiohttp
import orjson

from connectors.one_stop.signature import SIGNATURE_HEADER, sign
from devkit.simulators._synthetic import Synthetic, now_ms
from gateway.backoff import Backoff
from gateway.logs import get_logger

log = get_logger(__name__)

_NOTES = ("Bổ sung bản sao giấy chứng nhận quyền sử dụng đất",
          "Bổ sung bản vẽ thiết kế có xác nhận",
          "Đề nghị bổ sung giấy ủy quyền")
_FEES = (0, 0, 15_000, 30_000, 50_000, 100_000, 500_000)


@dataclass(slots=True)
class SendSummary:
    """What one `send` or `resend` did.

    Counted in events: `sent` distinct valid events sent; `accepted` events answered 2xx
    (resends included); `rejected` events answered 4xx, plus the invalid requests refused;
    `resent` deliberate duplicates of accepted events; `failed` events given up after max
    attempts. Counted in requests: `retried` attempts repeated after a timeout, connection
    error, 429 or 5xx; `invalid` deliberately bad requests sent (each should be refused).
    """

    sent: int = 0
    accepted: int = 0
    rejected: int = 0
    retried: int = 0
    resent: int = 0
    invalid: int = 0
    failed: int = 0
    elapsed_s: float = 0.0

    def line(self) -> str:
        """The one-line summary the CLI prints."""
        rate = self.sent / self.elapsed_s if self.elapsed_s > 0 else 0.0
        return (f"sent={self.sent} accepted={self.accepted} rejected={self.rejected} "
                f"retried={self.retried} resent={self.resent} invalid={self.invalid} "
                f"failed={self.failed} elapsed={self.elapsed_s:.2f}s rate={rate:.0f}/s")


@dataclass(slots=True)
class _Run:
    remaining: int
    summary: SendSummary = field(default_factory=SendSummary)
    kept: list[dict[str, Any]] = field(default_factory=list)

    def claim(self) -> bool:
        if self.remaining <= 0:
            return False
        self.remaining -= 1
        return True


class _Pacer:
    """Spaces requests to a global rate shared by every worker (None: no limit)."""

    def __init__(self, rate: float | None) -> None:
        self._gap = 1.0 / rate if rate else 0.0
        self._next = 0.0

    async def wait(self, events: int) -> None:
        if not self._gap:
            return
        now = asyncio.get_running_loop().time()
        slot = max(self._next, now)
        self._next = slot + self._gap * events
        if slot > now:
            await asyncio.sleep(slot - now)


class DossierEventSender:
    """Pushes dossier events to the one-stop connector's webhook.

    `target` is the webhook URL; `secret` the shared HMAC secret. `batch` > 1 sends
    `{"events": [...]}` with the next event of up to `batch` dossiers per request (each
    dossier still in order). `keep_sent` remembers every valid event sent (in
    `sent_events`) so tests can `resend` them after a crash.
    """

    def __init__(
        self, target: str, secret: str, *, rate: float | None = None, concurrency: int = 8,
        invalid_share: float = 0.0, resend_share: float = 0.0, seed: int | None = None,
        timeout_s: float = 10.0, max_attempts: int = 8, keep_sent: bool = False, batch: int = 1,
    ) -> None:
        self._target = target
        self._secret = secret.encode()
        self._rate = rate
        self._concurrency = concurrency
        self._invalid_share = invalid_share
        self._resend_share = resend_share
        self._syn = Synthetic(seed)
        self._timeout_s = timeout_s
        self._max_attempts = max_attempts
        self._keep_sent = keep_sent
        self._batch = max(1, batch)
        self._run_tag = self._syn.hex_id(4).upper()
        self._dossiers = 0
        self.sent_events: list[dict[str, Any]] = []

    async def send(self, count: int) -> SendSummary:
        """Send `count` valid events (plus the invalid and resent extras); wait for answers."""
        run = _Run(count)
        started = time.monotonic()
        async with self._session() as session:
            pacer = _Pacer(self._rate)
            async with asyncio.TaskGroup() as group:
                for _ in range(min(self._concurrency, max(count, 1))):
                    group.create_task(self._worker(session, pacer, run))
        run.summary.elapsed_s = time.monotonic() - started
        self.sent_events.extend(run.kept)
        return run.summary

    async def resend(self, events: Sequence[dict[str, Any]]) -> SendSummary:
        """Send already-sent events again, in order, one at a time (a sender's crash replay)."""
        run = _Run(len(events))
        started = time.monotonic()
        async with self._session() as session:
            for event in events:
                await self._deliver(session, [event], run.summary)
                run.summary.resent += 1
        run.summary.elapsed_s = time.monotonic() - started
        return run.summary

    def _session(self) -> aiohttp.ClientSession:
        return aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=self._concurrency),
            timeout=aiohttp.ClientTimeout(total=self._timeout_s),
        )

    async def _worker(self, session: aiohttp.ClientSession, pacer: _Pacer, run: _Run) -> None:
        """Keep up to `batch` dossiers going; each request carries the next event of each."""
        rng = self._syn.rng
        lives: list[Iterator[dict[str, Any]]] = []
        while True:
            events: list[dict[str, Any]] = []
            going: list[Iterator[dict[str, Any]]] = []
            for life in lives:
                event = next(life, None)
                if event is None:
                    continue  # that dossier's life is over
                if not run.claim():
                    break
                events.append(event)
                going.append(life)
            while len(going) < self._batch and run.claim():
                life = self._dossier_life()
                events.append(next(life))
                going.append(life)
            lives = going
            if not events:
                return
            await pacer.wait(len(events))
            if rng.random() < self._invalid_share:
                await self._send_invalid(session, run.summary)
            accepted = await self._deliver(session, events, run.summary)
            run.summary.sent += len(events)
            if self._keep_sent:
                run.kept.extend(events)
            if accepted and rng.random() < self._resend_share:
                await self._deliver(session, events, run.summary)
                run.summary.resent += len(events)

    async def _deliver(
        self, session: aiohttp.ClientSession, events: Sequence[dict[str, Any]],
        summary: SendSummary,
    ) -> bool:
        """Post events until answered (True if accepted); retries keep the same bytes."""
        body = orjson.dumps(events[0] if len(events) == 1 else {"events": list(events)})
        headers = {SIGNATURE_HEADER: sign(self._secret, body),
                   "Content-Type": "application/json"}
        backoff = Backoff(0.05, 5.0).timer()
        for attempt in range(1, self._max_attempts + 1):
            try:
                async with session.post(self._target, data=body, headers=headers) as resp:
                    status = resp.status
                    answer = await resp.read()
            except (aiohttp.ClientError, TimeoutError) as exc:
                status, answer = 0, type(exc).__name__.encode()
            if 200 <= status < 300:
                summary.accepted += len(events)
                return True
            if status != 0 and status < 500 and status != 429:
                summary.rejected += len(events)
                log.warning("one_stop_events_rejected", status=status,
                            event_id=events[0]["event_id"], events=len(events),
                            answer=answer[:300].decode(errors="replace"))
                return False
            if attempt == self._max_attempts:
                break
            summary.retried += 1
            await asyncio.sleep(backoff.next_delay())
        summary.failed += len(events)
        log.error("one_stop_events_undelivered", event_id=events[0]["event_id"],
                  events=len(events), attempts=self._max_attempts, last_status=status)
        return False

    async def _send_invalid(self, session: aiohttp.ClientSession, summary: SendSummary) -> None:
        """One deliberately bad request: wrong signature, not JSON, missing or bad field."""
        rng = self._syn.rng
        event = next(iter(self._dossier_life()))
        kind = rng.choice(("signature", "json", "missing", "agency", "identity"))
        if kind == "missing":
            del event["dossier_code"]
        elif kind == "agency":
            event["receiving_agency_code"] = "h12-not-a-code"
        elif kind == "identity":
            event["applicant"]["identity_number"] = "12345"
        body = b'{"event_id": "broken' if kind == "json" else orjson.dumps(event)
        signature = sign(b"not-the-secret" if kind == "signature" else self._secret, body)
        summary.invalid += 1
        try:
            async with session.post(self._target, data=body,
                                    headers={SIGNATURE_HEADER: signature}) as resp:
                await resp.read()
                if 400 <= resp.status < 500:
                    summary.rejected += 1
                else:
                    log.warning("one_stop_invalid_not_rejected", kind=kind, status=resp.status)
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.warning("one_stop_invalid_not_answered", kind=kind, error=type(exc).__name__)

    def _dossier_life(self) -> Iterator[dict[str, Any]]:
        """The events of one new dossier, in order."""
        syn, rng = self._syn, self._syn.rng
        self._dossiers += 1
        agency = syn.agency_code()
        received = now_ms() - timedelta(minutes=rng.randint(0, 600))
        dossier = {
            "dossier_code": f"{agency}-{received:%y%m%d}-{self._run_tag}{self._dossiers:06d}",
            "procedure_code": f"{rng.choice('123')}.{rng.randint(1, 12000):06d}.000.00.00.H12",
            "receiving_agency_code": agency,
            "applicant": {"full_name": syn.person_name(), "identity_number": syn.identity_number(),
                          "phone": syn.phone() if rng.random() < 0.8 else None},
            "received_at": received.isoformat(timespec="milliseconds"),
            "due_at": (received + timedelta(days=rng.randint(3, 20))).isoformat(
                timespec="milliseconds"),
            "fee_paid_vnd": rng.choice(_FEES),
            "submission_channel": rng.choices(("ONLINE", "COUNTER", "POSTAL"), (12, 7, 1))[0],
        }
        at = received
        previous: str | None = None
        for status in _life(rng.random(), rng.random()):
            at = at + timedelta(minutes=rng.randint(1, 240)) if previous else at
            yield self._event(dossier, status, previous, at)
            previous = status

    def _event(self, dossier: dict[str, Any], status: str, previous: str | None,
               at: datetime) -> dict[str, Any]:
        done = status in ("COMPLETED", "RESULT_ISSUED")
        rng = self._syn.rng
        return {
            **dossier,
            "applicant": dict(dossier["applicant"]),
            "event_id": f"EV-{self._syn.hex_id(24)}",
            "status": status,
            "previous_status": previous,
            "completed_at": at.isoformat(timespec="milliseconds") if done else None,
            "result_reference": (f"{rng.randint(1, 9999)}/GP-UBND"
                                 if status == "RESULT_ISSUED" else None),
            "note": rng.choice(_NOTES) if status == "SUPPLEMENT_REQUESTED" else None,
            "occurred_at": at.isoformat(timespec="milliseconds"),
        }


def _life(roll: float, supplement: float) -> list[str]:
    if roll < 0.08:
        return ["RECEIVED", "REJECTED"]
    middle = ["PROCESSING", "SUPPLEMENT_REQUESTED", "PROCESSING"] if supplement < 0.2 \
        else ["PROCESSING"]
    if roll < 0.12:
        return ["RECEIVED", *middle, "REJECTED"]
    return ["RECEIVED", *middle, "COMPLETED", "RESULT_ISSUED"]
