"""The iOffice document API as the connector reads it: pages, documents, the cursor.

`GET /api/v1/documents?modified_since=<ISO 8601>&page=<n>&page_size=<m>` answers
`{"items": [...], "page": n, "page_size": m, "total_pages": k}` with every document
modified at or after `modified_since`, ordered by (modified_at, document_id), document
ids compared as strings. Pages count from 1.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from gateway.contracts import AgencyCode
from gateway.errors import ConfigError


class _Lenient(BaseModel):
    # A source API adds fields over time (links, workflow state); we map what we know.
    model_config = ConfigDict(extra="ignore", frozen=True)


class Signer(_Lenient):
    """Who signed the document."""

    full_name: str = Field(min_length=1)
    position: str


class Attachment(_Lenient):
    """A file attached to the document (content stays in iOffice; its hash travels)."""

    file_name: str = Field(min_length=1)
    mime_type: str
    size_bytes: int = Field(ge=0)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


class Document(_Lenient):
    """One document of the API, validated; `payload()` fits schemas/avro/ioffice.document."""

    document_id: str = Field(min_length=1, max_length=100)
    direction: Literal["INCOMING", "OUTGOING"]
    number_symbol: str = Field(min_length=1)
    issuing_agency_code: AgencyCode
    recipient_agency_codes: list[AgencyCode]
    subject: str
    document_type: str = Field(min_length=1)
    urgency: Literal["NORMAL", "URGENT", "VERY_URGENT", "FLASH"]
    security_level: Literal["NORMAL", "CONFIDENTIAL", "SECRET", "TOP_SECRET"]
    signed_date: date
    signer: Signer
    due_date: date | None = None
    response_for: str | None = None
    attachments: list[Attachment] = Field(default_factory=list)
    modified_at: AwareDatetime

    def payload(self) -> dict[str, Any]:
        """The Avro payload datum (dates and tz-aware datetimes as Python objects)."""
        return self.model_dump()

    @property
    def key(self) -> Cursor:
        """This document's place in the API's order."""
        return Cursor(self.modified_at, self.document_id)


class Page(_Lenient):
    """One page of the listing; items stay raw so one bad document can be named alone."""

    items: list[dict[str, Any]]
    page: int = Field(ge=1)
    page_size: int = Field(ge=1)
    total_pages: int = Field(ge=0)


@dataclass(frozen=True, slots=True, order=True)
class Cursor:
    """The last document handed to Kafka: (modified_at, document_id), in the API's order.

    Keeping the id as well as the time is what lets a poll resume inside a group of
    documents with the same timestamp, without reading any of them twice or skipping one.
    """

    modified_at: datetime
    document_id: str

    def to_position(self) -> dict[str, str]:
        """The JSON position committed to the offsets topic."""
        return {"modified_at": self.modified_at.astimezone(UTC).isoformat(),
                "document_id": self.document_id}

    @classmethod
    def from_position(cls, position: Any) -> Cursor:
        """Parse a committed position; ConfigError if it is not one of ours."""
        try:
            stored = _StoredCursor.model_validate(position)
        except ValidationError as exc:
            raise ConfigError(
                f"committed position {position!r} is not an iOffice cursor; "
                "reset the connector's offsets"
            ) from exc
        return cls(stored.modified_at, stored.document_id)

    @classmethod
    def lenient_key(cls, raw: dict[str, Any]) -> Cursor | None:
        """The place of a document that failed validation, if its key fields still parse."""
        try:
            key = _StoredCursor.model_validate(
                {"modified_at": raw.get("modified_at"), "document_id": raw.get("document_id")}
            )
        except ValidationError:
            return None
        return cls(key.modified_at, key.document_id)


class _StoredCursor(BaseModel):
    model_config = ConfigDict(extra="forbid")

    modified_at: AwareDatetime
    document_id: str = Field(min_length=1)
