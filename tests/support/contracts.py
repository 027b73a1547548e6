"""Realistic payloads that fit the Avro contracts, for tests and benchmarks."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any


def dossier_event(n: int = 1, *, identity_number: str = "079203001234") -> dict[str, Any]:
    """An administrative-procedure dossier event (onestop.dossier_event)."""
    return {
        "event_id": f"evt-{n}",
        "dossier_code": f"H12.22-260101-{n:06d}",
        "procedure_code": "1.011442.000.00.00.H12",
        "receiving_agency_code": "000.00.12.H12",
        "status": "RECEIVED",
        "applicant": {"full_name": "Nguyen Van An", "identity_number": identity_number},
        "received_at": datetime(2026, 11, 2, 8, 30, tzinfo=UTC),
        "fee_paid_vnd": 50_000,
    }


def official_document(n: int = 1) -> dict[str, Any]:
    """An iOffice official document (ioffice.document) with one attachment."""
    return {
        "document_id": f"doc-{n}",
        "direction": "OUTGOING",
        "number_symbol": f"{n}/UBND-VP",
        "issuing_agency_code": "000.00.00.H12",
        "recipient_agency_codes": ["000.00.04.G14", "000.00.12.H12"],
        "subject": "Ve viec trien khai nen tang tich hop, chia se du lieu cap tinh " * 3,
        "document_type": "CV",
        "urgency": "URGENT",
        "security_level": "NORMAL",
        "signed_date": date(2026, 11, 2),
        "signer": {"full_name": "Tran Thi Binh", "position": "Pho Chu tich"},
        "attachments": [{"file_name": "cv.pdf", "mime_type": "application/pdf",
                         "size_bytes": 183_112, "sha256": "ab" * 32}],
        "modified_at": datetime(2026, 11, 2, 9, 0, tzinfo=UTC),
    }
