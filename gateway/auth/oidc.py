"""Identity-provider JWTs (OIDC access tokens, e.g. Keycloak) checked with PyJWT.

The signing keys come from a JWKS: a file, or an https URL fetched with aiohttp. A token
signed with a key id the set does not hold makes the set be fetched again (the provider
rotated its keys), at most once per `refetch_min_s` so a flood of forged key ids cannot
turn the gateway into a load generator against the provider. Only RS256 and ES256 are
accepted: never `none`, never an HMAC algorithm (which would let a public key be used as
a shared secret).
"""

from __future__ import annotations

__all__ = ["ALGORITHMS", "JwksSource", "OidcVerifier", "roles_at"]

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import jwt
import orjson

from gateway.auth.principal import Principal
from gateway.auth.roles import Role, role_named
from gateway.errors import ConfigError, UnauthenticatedError
from gateway.logs import get_logger

ALGORITHMS = ("RS256", "ES256")
_FETCH_TIMEOUT_S = 10.0
_log = get_logger(__name__)

Fetcher = Callable[[], Awaitable[dict[str, Any]]]


class JwksSource:
    """The provider's key set, re-read on an unknown key id (rate-limited)."""

    def __init__(self, location: str, *, refetch_min_s: float = 30.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.location = location
        self._refetch_min_s = refetch_min_s
        self._clock = clock
        self._keys: dict[str, jwt.PyJWK] = {}
        self._anonymous: list[jwt.PyJWK] = []
        self._fetched_at: float | None = None
        self._lock = asyncio.Lock()

    async def load(self) -> None:
        """Fetch the set now; ConfigError (one line) if it cannot be had or read."""
        await self._fetch()

    async def key(self, kid: str | None) -> jwt.PyJWK | None:
        """The key with this id (a set of one key without ids serves tokens without kid)."""
        found = self._find(kid)
        if found is not None:
            return found
        async with self._lock:
            found = self._find(kid)
            if found is not None:
                return found
            now = self._clock()
            if self._fetched_at is not None and now - self._fetched_at < self._refetch_min_s:
                return None
            try:
                await self._fetch()
            except ConfigError as exc:
                _log.warning("JWKS refetch failed", jwks=self.location, error=str(exc))
                self._fetched_at = now
                return None
        return self._find(kid)

    def _find(self, kid: str | None) -> jwt.PyJWK | None:
        if kid is not None:
            return self._keys.get(kid)
        return self._anonymous[0] if len(self._anonymous) == 1 and not self._keys else None

    async def _fetch(self) -> None:
        self._fetched_at = self._clock()
        document = await (self._from_url() if self.location.startswith(("https://", "http://"))
                          else self._from_file())
        keys: dict[str, jwt.PyJWK] = {}
        anonymous: list[jwt.PyJWK] = []
        for entry in document.get("keys", []) if isinstance(document, dict) else []:
            if not isinstance(entry, dict) or entry.get("use", "sig") != "sig":
                continue
            try:
                key = jwt.PyJWK(entry)
            except (jwt.PyJWKError, jwt.InvalidKeyError) as exc:
                _log.warning("JWKS key skipped", kid=entry.get("kid"), error=str(exc))
                continue
            if key.algorithm_name not in ALGORITHMS:
                continue
            if isinstance(entry.get("kid"), str):
                keys[entry["kid"]] = key
            else:
                anonymous.append(key)
        if not keys and not anonymous:
            raise ConfigError(f"the JWKS at {self.location} holds no RS256 or ES256 "
                              "signing key")
        self._keys, self._anonymous = keys, anonymous
        _log.info("JWKS loaded", jwks=self.location, keys=len(keys) + len(anonymous))

    async def _from_file(self) -> dict[str, Any]:
        try:
            raw = await asyncio.to_thread(Path(self.location).read_bytes)
        except OSError as exc:
            raise ConfigError(f"cannot read the JWKS file {self.location}: "
                              f"{exc.strerror or exc}") from exc
        return _parse(raw, self.location)

    async def _from_url(self) -> dict[str, Any]:
        timeout = aiohttp.ClientTimeout(total=_FETCH_TIMEOUT_S)
        try:
            async with aiohttp.ClientSession(timeout=timeout) as session, \
                    session.get(self.location) as response:
                if response.status != 200:
                    raise ConfigError(f"the JWKS at {self.location} answered HTTP "
                                      f"{response.status}")
                raw = await response.read()
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise ConfigError(f"cannot fetch the JWKS at {self.location}: "
                              f"{type(exc).__name__}: {exc}") from exc
        return _parse(raw, self.location)


def _parse(raw: bytes, where: str) -> dict[str, Any]:
    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ConfigError(f"the JWKS at {where} is not JSON: {exc}") from exc
    if not isinstance(document, dict):
        raise ConfigError(f"the JWKS at {where} is not a JSON object")
    return document


def roles_at(claims: dict[str, Any], path: str) -> frozenset[Role]:
    """The gateway roles found at a dotted claim path (`realm_access.roles`).

    The value may be a list of names or one space-separated string; names that are not
    gateway roles (a provider holds roles of many systems) are ignored.
    """
    value: Any = claims
    for part in path.split("."):
        if not isinstance(value, dict):
            return frozenset()
        value = value.get(part)
    names = value.split() if isinstance(value, str) else value
    if not isinstance(names, list):
        return frozenset()
    return frozenset(r for r in (role_named(n) for n in names if isinstance(n, str))
                     if r is not None)


class OidcVerifier:
    """Checks an identity-provider JWT: signature, algorithm, iss, aud, exp/nbf."""

    def __init__(self, jwks: JwksSource, *, issuer: str | None, audience: str | None,
                 roles_claim: str = "roles", leeway_s: float = 30.0) -> None:
        if not issuer or not audience:
            raise ConfigError("identity-provider tokens need LGSP_AUTH__ISSUER and "
                              "LGSP_AUTH__AUDIENCE besides LGSP_AUTH__JWKS")
        self.jwks = jwks
        self._issuer = issuer
        self._audience = audience
        self._roles_claim = roles_claim
        self._leeway_s = leeway_s

    async def verify(self, token: str) -> Principal:
        """The principal the token proves; UnauthenticatedError for anything wrong.

        What was wrong is logged at debug level only, never told to the caller.
        """
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise _refused("not a JWT", exc) from None
        alg = header.get("alg")
        if alg not in ALGORITHMS:
            raise _refused(f"algorithm {alg!r} not accepted")
        kid = header.get("kid")
        key = await self.jwks.key(kid if isinstance(kid, str) else None)
        if key is None:
            raise _refused(f"no key {kid!r} in the JWKS")
        try:
            claims: dict[str, Any] = jwt.decode(
                token, key=key, algorithms=[alg], audience=self._audience,
                issuer=self._issuer, leeway=self._leeway_s,
                options={"require": ["exp", "iss", "aud", "sub"]})
        except jwt.PyJWTError as exc:
            raise _refused("claims or signature refused", exc) from None
        name = claims.get("preferred_username")
        subject = name if isinstance(name, str) and name else str(claims["sub"])
        return Principal(f"oidc:{subject}", roles_at(claims, self._roles_claim))


def _refused(why: str, exc: Exception | None = None) -> UnauthenticatedError:
    _log.debug("identity token refused", reason=why, error=str(exc) if exc else None)
    return UnauthenticatedError("the token is not valid")
