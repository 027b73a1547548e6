"""Redaction: identity and phone numbers however written, credentials in text, dotted
secret keys, fields marked pii, and library (stdlib logging) records."""

from __future__ import annotations

import io
import json
import logging
import os
from collections.abc import Iterator
from contextlib import redirect_stderr
from typing import Any

import pytest

from gateway.contracts import SchemaRegistry
from gateway.logs import configure_logging, get_logger, mark_pii, redact_text, reset_logging
from gateway.settings import Settings

ID = "079203001234"


@pytest.mark.parametrize("text", [
    "id 079203001234 here", "id 079 203 001 234 here", "id 0792-0300-1234 here",
    "cmnd 123456789", "cmnd 123 456 789", "cmnd 123-456-789",
    "call 0912345678", "call 0912 345 678", "call 0912.345.678", "call +84 912 345 678",
    "call +84912345678", "call 0084912345678", "landline 0290 3831 234",
])
def test_personal_numbers_are_masked_however_written(text: str) -> None:
    masked = redact_text(text)
    assert "***" in masked, masked
    assert sum(c.isdigit() for c in masked) == 0, masked


@pytest.mark.parametrize("text", [
    "offset 1234567890123456", "agency 000.00.00.H12", "at 2025-08-01T08:00:00+07:00",
    "procedure 1.011442.000.00.00.H38", "took 12.5 ms, 1000 events", "port 8083",
])
def test_other_numbers_are_left_alone(text: str) -> None:
    assert redact_text(text) == text


def test_credentials_written_in_text_are_masked() -> None:
    text = ("GET failed: Authorization: Bearer eyJhbGciOi.abc-def_1 sent; "
            "url https://x/?token=s3cr3t&page=2 client_secret='hush' api-key: k-123")
    masked = redact_text(text)
    for secret in ("eyJhbGciOi.abc-def_1", "s3cr3t", "hush", "k-123"):
        assert secret not in masked, masked
    assert "page=2" in masked


@pytest.fixture
def json_lines() -> Iterator[io.StringIO]:
    buffer = io.StringIO()
    with redirect_stderr(buffer):
        configure_logging("json", "INFO")
        yield buffer
    reset_logging()


def _lines(buffer: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(ln) for ln in buffer.getvalue().splitlines() if ln.startswith("{")]


def test_dotted_secret_keys_and_pii_fields_are_masked(json_lines: io.StringIO) -> None:
    SchemaRegistry.load(Settings().schemas_dir)  # registers the contracts' pii fields
    mark_pii(["mother_name"])
    get_logger("test").info("config stored", config={
        "webhook.secret": "w-secret-1", "api.token": "t-2", "sasl-password": "p-3",
        "ndxp.client_secret": "c-4", "api.url": "https://ioffice"},
        applicant={"phone": "0912345678", "mother_name": "Le Thi B", "full_name": "An"})
    line = _lines(json_lines)[-1]
    text = json.dumps(line)
    for secret in ("w-secret-1", "t-2", "p-3", "c-4", "0912345678", "Le Thi B"):
        assert secret not in text, text
    assert line["config"]["api.url"] == "https://ioffice"
    assert line["applicant"]["full_name"] == "An"


def test_exceptions_and_library_records_are_redacted(json_lines: io.StringIO) -> None:
    try:
        raise ValueError(f"dossier of {ID[:3]} {ID[3:6]} {ID[6:9]} {ID[9:]} refused")
    except ValueError:
        get_logger("test").exception("handling failed")
    try:
        raise RuntimeError("token=abcdef rejected")
    except RuntimeError:
        logging.getLogger("aiohttp.server").exception("Error handling request from %s",
                                                      "0912 345 678")
    logging.getLogger("aiokafka.conn").warning("peer sent %s", ID)
    lines = _lines(json_lines)
    text = json.dumps(lines)
    for secret in ("079 203 001 234", ID, "abcdef", "0912 345 678"):
        assert secret not in text, text
    library = [ln for ln in lines if ln.get("logger", "").startswith(("aiohttp", "aiokafka"))]
    assert len(library) == 2, lines
    assert library[0]["level"] == "error" and "RuntimeError" in library[0]["exception"]


def test_a_log_call_never_raises_on_text_json_cannot_hold(json_lines: io.StringIO) -> None:
    name = os.fsdecode(b"bad-\xff.csv")
    get_logger("test").warning("file refused", file=name, size=2**70)
    line = _lines(json_lines)[-1]
    assert line["event"] == "file refused"
    assert line["size"] == 2**70
