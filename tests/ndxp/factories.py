"""Transactions and raw bodies for the NDXP tests."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from gateway.ndxp import OutboundTransaction

AGENCY = "000.00.00.H12"


def make_tx(**changes: Any) -> OutboundTransaction:
    """A valid transaction with a fresh id; payload values as decoded Avro gives them."""
    tx = OutboundTransaction(
        transaction_id=str(uuid.uuid4()),
        correlation_id=str(uuid.uuid4()),
        source_system="ioffice",
        source_agency_code=AGENCY,
        message_type="ioffice.document",
        schema_version=1,
        occurred_at=datetime(2025, 3, 14, 8, 30, tzinfo=UTC),
        payload={
            "document_id": "VB-2025-0001",
            "subject": "Báo cáo tình hình kinh tế - xã hội quý I",
            "issued_on": date(2025, 3, 14),
            "fee_vnd": Decimal("12500.50"),
            "content_sha256": bytes(range(8)),
        },
    )
    return dataclasses.replace(tx, **changes)


def raw_body(request_id: str | None = None, **changes: Any) -> dict[str, Any]:
    """A valid transaction body as JSON would carry it; `changes` set or (None) drop fields."""
    body: dict[str, Any] = {
        "request_id": request_id or str(uuid.uuid4()),
        "correlation_id": "corr-1",
        "agency_code": AGENCY,
        "officer_id": "officer-7",
        "source_system": "one-stop",
        "message_type": "onestop.dossier_event",
        "schema_version": 2,
        "occurred_at": "2025-03-14T08:30:00+07:00",
        "payload": {"dossier_id": "H12.1-250314-0001"},
    }
    for field, value in changes.items():
        if value is None:
            body.pop(field, None)
        else:
            body[field] = value
    return body
