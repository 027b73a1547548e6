"""The webhook's authentication: HMAC-SHA256 over the raw body, `X-Signature: sha256=<hex>`."""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "X-Signature"
_PREFIX = "sha256="


def sign(secret: bytes, body: bytes) -> str:
    """The header value that authenticates `body`."""
    return _PREFIX + hmac.new(secret, body, hashlib.sha256).hexdigest()


def verify(secret: bytes, body: bytes, header: str | None) -> bool:
    """Whether `header` is the signature of `body` (constant-time comparison)."""
    if header is None or not header.startswith(_PREFIX):
        return False
    expected = hmac.new(secret, body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode(), header[len(_PREFIX):].strip().lower().encode())
