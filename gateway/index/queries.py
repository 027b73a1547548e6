"""The listing's filter as people type it, validated once for the API and the CLI.

`business_key`, `service`, `outcome`, `since`/`until` (ISO-8601 or an age such as
`2h`), `limit` and an opaque `cursor` (the keyset position of the previous page's last
row, base64url so callers treat it as a token, not as data to build).
"""

from __future__ import annotations

__all__ = ["OUTCOMES", "decode_cursor", "encode_cursor", "transaction_query"]

import base64
import binascii

import orjson

from gateway.errors import ConfigError, FieldProblem
from gateway.index.model import TransactionQuery
from gateway.replay.filters import check_service
from gateway.replay.timeparse import parse_time
from gateway.trace import TraceStatus

OUTCOMES = tuple(s.value for s in TraceStatus)
MAX_LIMIT = 1000
_KEY_CHARS = 200


def encode_cursor(after: tuple[int, str]) -> str:
    """The opaque token of a keyset position."""
    return base64.urlsafe_b64encode(orjson.dumps(list(after))).decode().rstrip("=")


def decode_cursor(token: str) -> tuple[int, str]:
    """The keyset position of a token; ValueError if it is not one of ours."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        at_ms, tx = orjson.loads(raw)
    except (binascii.Error, orjson.JSONDecodeError, ValueError, TypeError):
        raise ValueError("not a cursor from a previous page (pass next_cursor as is)"
                         ) from None
    if not isinstance(at_ms, int) or not isinstance(tx, str):
        raise ValueError("not a cursor from a previous page (pass next_cursor as is)")
    return at_ms, tx


def transaction_query(*, business_key: str | None = None, service: str | None = None,
                      outcome: str | None = None, since: str | None = None,
                      until: str | None = None, limit: str | int | None = None,
                      cursor: str | None = None) -> TransactionQuery:
    """A validated query; ConfigError naming every bad field."""
    problems: list[FieldProblem] = []
    if business_key is not None and not 0 < len(business_key) <= _KEY_CHARS:
        problems.append(FieldProblem("business_key", f"1 to {_KEY_CHARS} characters"))
    if service is not None:
        try:
            check_service(service)
        except ValueError as exc:
            problems.append(FieldProblem("service", str(exc)))
    status = None
    if outcome is not None:
        status = outcome.strip().upper()
        if status not in OUTCOMES:
            problems.append(FieldProblem("outcome", f"{outcome!r} is not one of "
                                         f"{', '.join(OUTCOMES)}"))
    bounds: dict[str, int | None] = {"since": None, "until": None}
    for name, text in (("since", since), ("until", until)):
        if text:
            try:
                bounds[name] = int(parse_time(text).timestamp() * 1000)
            except ValueError as exc:
                problems.append(FieldProblem(name, str(exc)))
    size, after = _page(limit, cursor, problems)
    if problems:
        raise ConfigError("invalid query", tuple(problems))
    return TransactionQuery(business_key=business_key, service=service, outcome=status,
                            since_ms=bounds["since"], until_ms=bounds["until"], limit=size,
                            after=after)


def _page(limit: str | int | None, cursor: str | None, problems: list[FieldProblem]
          ) -> tuple[int, tuple[int, str] | None]:
    size = 50
    if limit is not None:
        raw = str(limit)
        if not raw.isdigit() or not 1 <= int(raw) <= MAX_LIMIT:
            problems.append(FieldProblem("limit", f"{raw!r} is not a whole number from 1 "
                                         f"to {MAX_LIMIT}"))
        else:
            size = int(raw)
    after = None
    if cursor:
        try:
            after = decode_cursor(cursor)
        except ValueError as exc:
            problems.append(FieldProblem("cursor", str(exc)))
    return size, after
