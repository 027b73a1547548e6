"""The webhook's body: one dossier event, or `{"events": [...]}`, as JSON.

Each event is the `onestop.dossier_event` payload (newest version) in JSON, times as ISO
8601 with offset, plus an optional `occurred_at`: when the transition happened (default:
`completed_at`, else `received_at`, so a resent event always gets the same value). Unknown
fields are refused rather than dropped: a new field needs a new schema version, and a 400
naming it makes that visible instead of losing data silently.

Hostile bodies: orjson refuses nesting deeper than 1024 levels (a 400, like any body that
is not JSON), and the models accept no level beyond the applicant object, so depth is
bounded twice without a Python-level walk of the body.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal

import orjson
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from gateway.connect.plugin import SourceRecord
from gateway.contracts import AgencyCode
from gateway.errors import ContractError
from gateway.settings import problems_from

MESSAGE_TYPE = "onestop.dossier_event"

Status = Literal["RECEIVED", "PROCESSING", "SUPPLEMENT_REQUESTED", "COMPLETED",
                 "RESULT_ISSUED", "REJECTED"]


class InvalidEventError(ContractError):
    """The body is not a well-formed dossier event (or batch); `field` says where."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}" if field else reason)
        self.field = field


class Applicant(BaseModel):
    """The citizen or organisation the dossier is for (personal data: never logged)."""

    model_config = ConfigDict(extra="forbid")

    full_name: str = Field(min_length=1, max_length=200)
    # CCCD (12 digits) or the older CMND (9 digits).
    identity_number: str = Field(pattern=r"^(\d{12}|\d{9})$")
    phone: str | None = Field(default=None, pattern=r"^\+?\d{8,15}$")


class DossierEvent(BaseModel):
    """One status transition of a dossier as the one-stop system pushes it."""

    model_config = ConfigDict(extra="forbid")

    event_id: str = Field(min_length=1, max_length=100)
    dossier_code: str = Field(min_length=1, max_length=100)
    procedure_code: str = Field(pattern=r"^\d+\.\d{6}(\.[0-9A-Z]{1,10}){0,5}$")
    receiving_agency_code: AgencyCode
    status: Status
    previous_status: Status | None = None
    applicant: Applicant
    received_at: AwareDatetime
    due_at: AwareDatetime | None = None
    completed_at: AwareDatetime | None = None
    fee_paid_vnd: int = Field(default=0, ge=0)
    result_reference: str | None = Field(default=None, max_length=200)
    submission_channel: Literal["ONLINE", "COUNTER", "POSTAL", "UNKNOWN"] = "UNKNOWN"
    note: str | None = Field(default=None, max_length=2000)
    occurred_at: AwareDatetime | None = None

    def record(self) -> SourceRecord:
        """The source record: keyed and correlated by dossier, identified by event id."""
        occurred: datetime = self.occurred_at or self.completed_at or self.received_at
        return SourceRecord(
            source_id=self.event_id,
            message_type=MESSAGE_TYPE,
            payload=self.model_dump(exclude={"occurred_at"}),
            business_key=self.dossier_code,
            occurred_at=occurred,
            correlation_id=self.dossier_code,
        )


def parse_events(body: bytes, *, max_batch: int) -> list[SourceRecord]:
    """Every event of a body, all or nothing; InvalidEventError names the first bad field."""
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidEventError("body", f"not JSON: {exc}") from exc
    if not isinstance(doc, dict):
        raise InvalidEventError("body", "expected a JSON object: one event or {\"events\": [...]}")
    if "events" not in doc:
        return [_event(doc, "")]
    items = doc["events"]
    if len(doc) != 1 or not isinstance(items, list):
        raise InvalidEventError("events", "a batch is exactly {\"events\": [<event>, ...]}")
    if not 1 <= len(items) <= max_batch:
        raise InvalidEventError(
            "events", f"a batch holds 1 to {max_batch} events, not {len(items)}"
        )
    return [_event(item, f"events[{i}].") for i, item in enumerate(items)]


def _event(item: Any, where: str) -> SourceRecord:
    if not isinstance(item, Mapping):
        raise InvalidEventError(where.rstrip(".") or "body", "an event is a JSON object")
    try:
        return DossierEvent.model_validate(item).record()
    except ValidationError as exc:
        first = problems_from(exc)[0]
        raise InvalidEventError(f"{where}{first.field}", first.reason) from exc
