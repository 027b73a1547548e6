"""The JSON wire format of the national exchange, shared by `NdxpClient` and the stub.

One place defines the paths, headers, result codes, limits and body shapes, so the
client and the stub cannot drift apart. The format follows what an LGSP built as a
WSO2-style API gateway speaks: OAuth2 client credentials for a bearer token, versioned
REST paths, JSON bodies, and errors as coded results `{"result_code", "message"}`.
"""

from __future__ import annotations

__all__ = [
    "BATCH_SUFFIX",
    "FAULTS_PATH",
    "HEALTHZ_PATH",
    "HTTP_STATUS",
    "IDEMPOTENCY_KEY",
    "LOOKUP_SUFFIX",
    "MAX_REQUEST_ID_LENGTH",
    "METRICS_PATH",
    "READYZ_PATH",
    "SERVICES_PATH",
    "STATS_PATH",
    "TOKEN_PATH",
    "OutboundTransaction",
    "Receipt",
    "ResultCode",
    "batch_path",
    "dumps",
    "lookup_path",
    "transaction_body",
    "transaction_path",
    "transactions_path",
]

import base64
from collections.abc import Mapping, Set
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any
from urllib.parse import quote

import orjson

TOKEN_PATH = "/oauth2/token"  # noqa: S105 - a URL path, not a password
SERVICES_PATH = "/ndxp/v1/services"
STATS_PATH = "/ndxp/v1/stats"
FAULTS_PATH = "/ndxp/v1/faults"
HEALTHZ_PATH = "/healthz"
READYZ_PATH = "/readyz"
METRICS_PATH = "/metrics"
# Google-style custom method on the collection (AIP-136): the batch sibling of /transactions.
BATCH_SUFFIX = ":batch"
# Its question sibling: which of these request ids do you have? One request for a whole
# batch whose answer was lost, instead of one lookup per transaction.
LOOKUP_SUFFIX = ":lookup"

IDEMPOTENCY_KEY = "Idempotency-Key"
# NDXP requires a caller-generated request id of at most 40 characters.
MAX_REQUEST_ID_LENGTH = 40


class ResultCode(StrEnum):
    """Coded results of the national exchange: "0" is success, the rest name the refusal."""

    OK = "0"
    AUTH_ERROR = "AUTH_ERROR"
    IP_NOT_ALLOWED = "IP_NOT_ALLOWED"
    AGENCY_ID_INCORRECT = "AGENCY_ID_INCORRECT"
    DATA_INCORRECT = "DATA_INCORRECT"
    SERVICE_UNKNOWN = "SERVICE_UNKNOWN"
    SERVICE_UNAVAILABLE = "SERVICE_UNAVAILABLE"
    # Only from a lookup: the service has no transaction with this request id.
    TRANSACTION_UNKNOWN = "TRANSACTION_UNKNOWN"


HTTP_STATUS: Mapping[ResultCode, int] = {
    ResultCode.OK: 200,
    ResultCode.AUTH_ERROR: 401,
    ResultCode.IP_NOT_ALLOWED: 403,
    ResultCode.AGENCY_ID_INCORRECT: 400,
    ResultCode.DATA_INCORRECT: 400,
    ResultCode.SERVICE_UNKNOWN: 404,
    ResultCode.SERVICE_UNAVAILABLE: 503,
    ResultCode.TRANSACTION_UNKNOWN: 404,
}
"""The HTTP status that answers each result code (also used for per-item batch results)."""


@dataclass(frozen=True, slots=True)
class OutboundTransaction:
    """One transaction the router forwards to a national service.

    `transaction_id` is sent as both the request id and the Idempotency-Key, so a
    resend (retry, replay days later) is recognised by the national side.
    """

    transaction_id: str
    correlation_id: str
    source_system: str
    source_agency_code: str
    message_type: str
    schema_version: int
    occurred_at: datetime
    payload: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Receipt:
    """The national side's acknowledgement of one transaction.

    `duplicate` is true when the transaction had been received before; the receipt is
    then the one issued the first time.
    """

    transaction_id: str
    service: str
    receipt_id: str
    duplicate: bool
    received_at: str


def transactions_path(service: str) -> str:
    """Path of a national service's transaction endpoint."""
    return f"{SERVICES_PATH}/{quote(service, safe='')}/transactions"


def transaction_path(service: str, request_id: str) -> str:
    """Path of one transaction a service has received (`GET` looks its receipt up)."""
    return f"{transactions_path(service)}/{quote(request_id, safe='')}"


def batch_path(service: str) -> str:
    """Path of a national service's batch endpoint (only where the catalogue allows it)."""
    return transactions_path(service) + BATCH_SUFFIX


def lookup_path(service: str) -> str:
    """Path of a national service's bulk lookup (`POST {"transaction_ids": [...]}`)."""
    return transactions_path(service) + LOOKUP_SUFFIX


def transaction_body(tx: OutboundTransaction, officer_id: str) -> dict[str, Any]:
    """The JSON object sent for one transaction (serialise it with `dumps`)."""
    return {
        "request_id": tx.transaction_id,
        "correlation_id": tx.correlation_id,
        "agency_code": tx.source_agency_code,
        "officer_id": officer_id,
        "source_system": tx.source_system,
        "message_type": tx.message_type,
        "schema_version": tx.schema_version,
        "occurred_at": tx.occurred_at,
        "payload": tx.payload,
    }


def _default(value: Any) -> Any:
    # Decoded Avro holds types JSON lacks. Decimals travel as strings so no precision
    # is lost; bytes as base64; other mappings and sets as their JSON counterparts.
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, Set):
        return list(value)
    raise TypeError(f"{type(value).__name__} values cannot be sent as JSON")


# Naive datetimes are taken as UTC: decoded Avro timestamps are aware already, and a
# naive value from a connector must not silently gain the server's local offset.
_OPTIONS = orjson.OPT_NAIVE_UTC


def dumps(value: Any) -> bytes:
    """Serialise a body; datetimes become ISO-8601. Raises TypeError for unknown types."""
    return orjson.dumps(value, default=_default, option=_OPTIONS)
