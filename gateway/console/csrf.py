"""CSRF defence of every console POST: the session's synchronizer token, and the origin.

The token is made at sign-in, kept in the sealed session cookie (which pages cannot
read: HttpOnly) and put into each form; a POST must bring it back. A browser also says
where a request comes from (`Origin`, else `Referer`): when it does, that must be this
console's own origin. `SameSite=Strict` on the cookie is a third line.
"""

from __future__ import annotations

__all__ = ["CSRF_FIELD", "csrf_problem", "same_origin"]

import hmac
from urllib.parse import urlsplit

CSRF_FIELD = "csrf_token"
"""The form field carrying the synchronizer token."""


def same_origin(claimed: str, scheme: str, host: str) -> bool:
    """Whether `claimed` (an Origin or Referer value) is `scheme://host`."""
    parts = urlsplit(claimed)
    if not parts.scheme or not parts.netloc:
        return False
    return (parts.scheme.lower(), parts.netloc.lower()) == (scheme.lower(), host.lower())


def csrf_problem(*, expected: str, sent: str | None, origin: str | None,
                 referer: str | None, scheme: str, host: str) -> str | None:
    """Why a POST is refused (a short reason for the log), or None when it may pass."""
    if not sent or not hmac.compare_digest(sent.encode(), expected.encode()):
        return "missing or wrong CSRF token"
    if origin is not None and origin != "null":
        if not same_origin(origin, scheme, host):
            return "Origin is another site"
    elif origin == "null":
        return "Origin is opaque"
    elif referer and not same_origin(referer, scheme, host):
        return "Referer is another site"
    return None
