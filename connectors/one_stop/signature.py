"""The webhook's authentication: HMAC-SHA256 in `X-Signature`, two schemes side by side.

- `sha256=<hex>`: HMAC over the raw body (the original scheme).
- `t=<unix seconds>,v1=<hex>[,v1=<hex>...]`: HMAC over `<t>.<body>`, refused when `t` is
  further than the tolerance from now, as widely used webhook senders sign. A captured
  request cannot be replayed after the window, and several `v1` values let a sender roll
  its secret. Unknown schemes in the list (`v0=`...) are ignored.

Every comparison is constant-time (`hmac.compare_digest`).
"""

from __future__ import annotations

import hashlib
import hmac
import time
from enum import Enum

SIGNATURE_HEADER = "X-Signature"
_PREFIX = "sha256="
_HEX_LEN = 64


class Verdict(Enum):
    """Why a signature was accepted or refused (refusals are logged, never explained to
    the caller beyond 'missing or wrong')."""

    OK = "ok"
    MISSING = "missing"
    MALFORMED = "malformed"
    STALE = "outside the tolerance window"
    MISMATCH = "mismatch"


def _mac(secret: bytes, *parts: bytes) -> str:
    mac = hmac.new(secret, digestmod=hashlib.sha256)
    for part in parts:
        mac.update(part)
    return mac.hexdigest()


def sign(secret: bytes, body: bytes) -> str:
    """The `sha256=` header value that authenticates `body`."""
    return _PREFIX + _mac(secret, body)


def sign_timestamped(secret: bytes, body: bytes, timestamp: int | None = None) -> str:
    """The `t=...,v1=...` header value that authenticates `body` at `timestamp` (now)."""
    t = int(time.time()) if timestamp is None else timestamp
    return f"t={t},v1={_mac(secret, str(t).encode(), b'.', body)}"


def check(secret: bytes, body: bytes, header: str | None, *, tolerance_s: float,
          now: float | None = None) -> Verdict:
    """The verdict on `header` as the signature of `body`."""
    if header is None or not header.strip():
        return Verdict.MISSING
    value = header.strip()
    if value.startswith(_PREFIX):
        given = value[len(_PREFIX):].strip().lower()
        return _same(_mac(secret, body), given)
    return _check_timestamped(secret, body, value, tolerance_s,
                              time.time() if now is None else now)


def verify(secret: bytes, body: bytes, header: str | None, *, tolerance_s: float = 300.0
           ) -> bool:
    """Whether `header` is a valid signature of `body` in either scheme."""
    return check(secret, body, header, tolerance_s=tolerance_s) is Verdict.OK


def _check_timestamped(secret: bytes, body: bytes, value: str, tolerance_s: float,
                       now: float) -> Verdict:
    timestamp: str | None = None
    candidates: list[str] = []
    for item in value.split(",")[:16]:
        key, sep, val = item.strip().partition("=")
        if not sep:
            return Verdict.MALFORMED
        if key == "t" and timestamp is None:
            timestamp = val.strip()
        elif key == "v1":
            candidates.append(val.strip().lower())
    if timestamp is None or not candidates or not timestamp.isascii() \
            or not timestamp.isdigit() or len(timestamp) > 12:
        return Verdict.MALFORMED
    if abs(now - int(timestamp)) > tolerance_s:
        return Verdict.STALE
    expected = _mac(secret, timestamp.encode(), b".", body)
    verdicts = [_same(expected, c) for c in candidates]
    if Verdict.OK in verdicts:
        return Verdict.OK
    return Verdict.MISMATCH if Verdict.MISMATCH in verdicts else Verdict.MALFORMED


def _same(expected: str, given: str) -> Verdict:
    if len(given) != _HEX_LEN or not given.isascii():
        return Verdict.MALFORMED
    return Verdict.OK if hmac.compare_digest(expected.encode(), given.encode()) \
        else Verdict.MISMATCH
