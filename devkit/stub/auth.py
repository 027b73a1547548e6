"""Who may call the stub: OAuth2 client-credentials tokens and an optional IP allow-list.

Tokens are opaque random strings held in memory, as an API gateway's token store would
hold them; a stub restart forgets them, which is exactly the case that makes clients
refresh on a 401.
"""

from __future__ import annotations

__all__ = ["IpAllowList", "TokenIssuer", "basic_credentials"]

import base64
import binascii
import hmac
import ipaddress
import secrets
import time

from devkit.stub.config import IpNetwork

# Above this many live tokens, expired ones are swept when a new one is issued.
_SWEEP_ABOVE = 1024


class TokenIssuer:
    """Issues bearer tokens for the configured client secret and checks them."""

    def __init__(self, client_secret: str, ttl_s: int) -> None:
        self._secret = client_secret.encode()
        self.ttl_s = ttl_s
        self._expiry: dict[str, float] = {}

    def issue(self, client_id: str, client_secret: str) -> str | None:
        """A new token, or None when the credentials are wrong."""
        # compare_digest: the time taken must not tell how much of the secret matched.
        if not client_id or not hmac.compare_digest(client_secret.encode(), self._secret):
            return None
        now = time.monotonic()
        if len(self._expiry) > _SWEEP_ABOVE:
            self._expiry = {t: e for t, e in self._expiry.items() if e > now}
        token = secrets.token_urlsafe(32)
        self._expiry[token] = now + self.ttl_s
        return token

    def valid(self, authorization: str | None) -> bool:
        """Whether an Authorization header carries a live bearer token of ours."""
        if not authorization:
            return False
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer":
            return False
        expiry = self._expiry.get(token.strip())
        return expiry is not None and expiry > time.monotonic()


class IpAllowList:
    """Client addresses allowed to call the stub; empty means everyone."""

    def __init__(self, networks: tuple[IpNetwork, ...]) -> None:
        self._networks = networks
        # Few distinct client addresses call a stub; parse each one once.
        self._seen: dict[str, bool] = {}

    def allows(self, remote: str | None) -> bool:
        """Whether a request from this address may proceed."""
        if not self._networks:
            return True
        if remote is None:
            return False
        allowed = self._seen.get(remote)
        if allowed is None:
            try:
                address = ipaddress.ip_address(remote)
            except ValueError:
                allowed = False
            else:
                allowed = any(address in network for network in self._networks)
            if len(self._seen) < 10_000:
                self._seen[remote] = allowed
        return allowed


def basic_credentials(authorization: str | None) -> tuple[str, str] | None:
    """(client id, secret) from an HTTP Basic Authorization header, or None."""
    if not authorization:
        return None
    scheme, _, encoded = authorization.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True)
    except binascii.Error:
        return None
    try:
        text = decoded.decode("utf-8")
    except UnicodeDecodeError:
        text = decoded.decode("latin-1")  # RFC 7617's historical default
    client_id, colon, secret = text.partition(":")
    return (client_id, secret) if colon else None
