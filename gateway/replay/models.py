"""Request and response bodies of the replay endpoints (pydantic, at the edge).

The engine works with dataclasses; these models validate what comes in and describe
what goes out, and the OpenAPI document is generated from them.
"""

from __future__ import annotations

__all__ = [
    "CandidateModel",
    "ReplayFilterModel",
    "ReplayPreviewResponse",
    "ReplayRequestBody",
    "ReplayRunModel",
]

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from gateway.replay.audit import AuditRecord
from gateway.replay.deadletters import DeadLetter
from gateway.replay.engine import ReplayRequest
from gateway.replay.filters import (
    MAX_RATE,
    ReplayFilter,
    check_connector,
    check_error_class,
    check_service,
    check_transaction_id,
)
from gateway.replay.timeparse import parse_time


def _time(value: str) -> str:
    parse_time(value)  # ValueError names the accepted forms
    return value


TimeText = Annotated[str, AfterValidator(_time)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class ReplayRequestBody(_Model):
    """Body of `POST /replays`: the filter (empty selects every dead-lettered
    transaction), and how to run."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, json_schema_extra={
        "examples": [{"from": "2h", "connectors": ["one-stop"],
                      "error_classes": ["TransientForwardError"], "dry_run": True,
                      "operator": "nguyen.van.an"}]})

    from_: TimeText | None = Field(
        default=None, alias="from",
        description="Latest failure at or after: ISO-8601 (zone-less = gateway's local "
                    "time) or an age such as 30m, 2h, 3d.")
    to: TimeText | None = Field(default=None, description="Latest failure before; same forms.")
    connectors: list[Annotated[str, AfterValidator(check_connector)]] = Field(
        default_factory=list)
    services: list[Annotated[str, AfterValidator(check_service)]] = Field(default_factory=list)
    error_classes: list[Annotated[str, AfterValidator(check_error_class)]] = Field(
        default_factory=list, description="Short or full class names, e.g. RejectedError.")
    transaction_ids: list[Annotated[str, AfterValidator(check_transaction_id)]] = Field(
        default_factory=list, max_length=100_000)
    dry_run: bool = Field(default=False, description="Only list what would be replayed.")
    rate: float = Field(default=50.0, gt=0, le=MAX_RATE, description="Re-submissions/second.")
    operator: str | None = Field(
        default=None, min_length=1, max_length=100, pattern=r"^[^\x00-\x1f]+$",
        description="Optional: the person a shared token acts for. The audit records the "
                    "authenticated subject, followed by `for <operator>` when given.")
    wait_s: float = Field(default=60.0, ge=0, le=3600,
                          description="How long to wait for the router's outcomes.")

    def to_request(self, origin: str, subject: str) -> ReplayRequest:
        """The engine's request, run by the authenticated `subject`; ConfigError if the
        filter as a whole is malformed."""
        now = datetime.now(UTC)
        flt = ReplayFilter.create(
            failed_from=parse_time(self.from_, now) if self.from_ else None,
            failed_to=parse_time(self.to, now) if self.to else None,
            connectors=self.connectors, services=self.services,
            error_classes=self.error_classes, transaction_ids=self.transaction_ids)
        operator = subject if self.operator in (None, subject) else \
            f"{subject} for {self.operator}"
        return ReplayRequest(filter=flt, operator=operator, origin=origin,
                             rate=self.rate, wait_s=self.wait_s, dry_run=self.dry_run)


class ReplayFilterModel(_Model):
    """A replay's filter as recorded."""

    failed_from: datetime | None
    failed_to: datetime | None
    connectors: list[str]
    services: list[str]
    error_classes: list[str]
    transaction_ids: list[str]

    @classmethod
    def of(cls, flt: ReplayFilter) -> ReplayFilterModel:
        """From the engine's filter."""
        return cls(failed_from=flt.failed_from, failed_to=flt.failed_to,
                   connectors=sorted(flt.connectors), services=sorted(flt.services),
                   error_classes=sorted(flt.error_classes),
                   transaction_ids=sorted(flt.transaction_ids))


class ReplayRunModel(_Model):
    """One replay run: who, when, what, and how it went (the audit record's fields)."""

    replay_id: str
    status: str = Field(description="DRY_RUN, STARTED (running), COMPLETED, INTERRUPTED "
                                    "or FAILED.")
    dry_run: bool
    operator: str
    origin: str
    started_at: datetime
    finished_at: datetime | None
    filter: ReplayFilterModel
    rate_per_s: float
    matched: int
    selected: int
    skipped_delivered: int
    skipped_submitted: int
    replayed: int
    delivered: int
    failed_again: int
    pending: int
    transaction_ids: list[str]
    transaction_ids_truncated: bool
    message: str | None

    @classmethod
    def of(cls, record: AuditRecord) -> ReplayRunModel:
        """From an audit record (or a live run's `audit_record()`)."""
        return cls(
            replay_id=record.replay_id, status=record.status.value, dry_run=record.dry_run,
            operator=record.operator, origin=record.origin, started_at=record.started_at,
            finished_at=record.finished_at, filter=ReplayFilterModel.of(record.filter),
            rate_per_s=record.rate_per_s, matched=record.matched, selected=record.selected,
            skipped_delivered=record.skipped_delivered,
            skipped_submitted=record.skipped_submitted, replayed=record.replayed,
            delivered=record.delivered, failed_again=record.failed_again,
            pending=record.pending, transaction_ids=record.transaction_ids,
            transaction_ids_truncated=record.transaction_ids_truncated,
            message=record.message)


class CandidateModel(_Model):
    """A dead-lettered transaction a replay would re-submit."""

    transaction_id: str
    connector: str
    service: str
    error: str = Field(description="Short error class, e.g. TransientForwardError.")
    error_class: str
    message: str
    attempts: int
    failed_at: datetime
    failed_in_replay: str | None = Field(description="Replay id if it failed in a replay.")

    @classmethod
    def of(cls, dead: DeadLetter, message: str) -> CandidateModel:
        """From a dead-letter record (message already masked)."""
        return cls(transaction_id=dead.transaction_id, connector=dead.connector,
                   service=dead.service, error=dead.error_short, error_class=dead.error_class,
                   message=message, attempts=dead.attempts,
                   failed_at=datetime.fromtimestamp(dead.timestamp_ms / 1000, UTC),
                   failed_in_replay=dead.replay_id)


class ReplayPreviewResponse(_Model):
    """`POST /replays` with `dry_run`: what a replay would do; nothing was sent."""

    replay: ReplayRunModel
    candidates: list[CandidateModel]
    already_delivered: list[str]
    already_submitted: dict[str, str] = Field(
        description="Transaction id -> the replay that already re-submitted it.")
