"""Validation of one transaction body, in plain code: it runs on every request.

pydantic would be the idiom at an edge, but here it costs several times more per
request than these few checks, and the stub is the benchmarks' endpoint.
"""

from __future__ import annotations

__all__ = ["InvalidTransactionError", "request_id_of"]

from datetime import datetime
from typing import Any

from gateway.contracts import is_agency_code
from gateway.ndxp.wire import IDEMPOTENCY_KEY, MAX_REQUEST_ID_LENGTH, ResultCode

_TEXT_FIELDS = ("correlation_id", "officer_id", "source_system", "message_type")


class InvalidTransactionError(Exception):
    """A transaction body is refused; `code` is the result code to answer with."""

    def __init__(self, code: ResultCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _data_incorrect(message: str) -> InvalidTransactionError:
    return InvalidTransactionError(ResultCode.DATA_INCORRECT, message)


def _text(body: dict[str, Any], field: str) -> str:
    value = body.get(field)
    if value is None:
        raise _data_incorrect(f"missing field '{field}'")
    if not isinstance(value, str) or not value.strip():
        raise _data_incorrect(f"field '{field}' must be a non-empty string")
    return value


def request_id_of(body: Any, idempotency_key: str | None) -> str:
    """Check a transaction body and return its request id (the idempotency key).

    `idempotency_key` is the header of a single request, which the request id must
    equal; None for the items of a batch, which carry only their request ids.
    Raises InvalidTransactionError naming the first field that is wrong.
    """
    if not isinstance(body, dict):
        raise _data_incorrect("the transaction must be a JSON object")
    request_id = _text(body, "request_id")
    if len(request_id) > MAX_REQUEST_ID_LENGTH:
        raise _data_incorrect(
            f"field 'request_id' is {len(request_id)} characters; at most "
            f"{MAX_REQUEST_ID_LENGTH} are allowed"
        )
    if idempotency_key is not None and request_id != idempotency_key:
        raise _data_incorrect(f"field 'request_id' must equal the {IDEMPOTENCY_KEY} header")
    agency_code = _text(body, "agency_code")
    if not is_agency_code(agency_code):
        raise InvalidTransactionError(
            ResultCode.AGENCY_ID_INCORRECT,
            f"field 'agency_code' {agency_code[:40]!r} is not an agency code: at most 35 "
            "characters, dot-separated groups of digits and capital letters, "
            "e.g. 000.00.00.H41",
        )
    for field in _TEXT_FIELDS:
        _text(body, field)
    version = body.get("schema_version")
    if version is None:
        raise _data_incorrect("missing field 'schema_version'")
    if type(version) is not int or version < 1:
        raise _data_incorrect("field 'schema_version' must be a positive integer")
    occurred_at = _text(body, "occurred_at")
    try:
        datetime.fromisoformat(occurred_at)
    except ValueError:
        raise _data_incorrect("field 'occurred_at' must be an ISO-8601 timestamp") from None
    payload = body.get("payload")
    if payload is None:
        raise _data_incorrect("missing field 'payload'")
    if not isinstance(payload, dict):
        raise _data_incorrect("field 'payload' must be a JSON object")
    return request_id
