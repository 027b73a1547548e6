"""From settings to a decision: who is calling (401 if nobody) and may they (403 if not)."""

from __future__ import annotations

__all__ = ["ANONYMOUS", "Authenticator", "ensure_first_admin", "tokens_file"]

import ipaddress
from pathlib import Path

from gateway.auth.oidc import JwksSource, OidcVerifier
from gateway.auth.principal import Principal
from gateway.auth.roles import Permission, Role, allows
from gateway.auth.tokens import ADMIN_TOKEN_FILE, TokenStore, default_tokens_file, write_private
from gateway.errors import ConfigError, ForbiddenError, UnauthenticatedError
from gateway.logs import get_logger
from gateway.settings import Settings

_log = get_logger(__name__)

ANONYMOUS = Principal("anonymous", frozenset({Role.ADMIN}))
"""The caller when `LGSP_AUTH__MODE=none` (loopback only): may do everything."""
_BEARER = "bearer "


def tokens_file(settings: Settings) -> Path:
    """The local token store of these settings."""
    return settings.auth.tokens_file or default_tokens_file(settings.state_dir)


class Authenticator:
    """Checks `Authorization: Bearer` credentials against local tokens and/or the IdP."""

    def __init__(self, *, store: TokenStore | None, oidc: OidcVerifier | None,
                 disabled: bool = False) -> None:
        self.store = store
        self.oidc = oidc
        self.disabled = disabled

    @classmethod
    def from_settings(cls, settings: Settings) -> Authenticator:
        """The authenticator the settings describe; ConfigError if they are contradictory.

        `LGSP_AUTH__MODE=none` is refused unless the admin API listens on loopback only.
        """
        auth = settings.auth
        if auth.mode == "none":
            if not _loopback(settings.host):
                raise ConfigError(
                    f"LGSP_AUTH__MODE=none is refused: the admin API listens on "
                    f"{settings.host}, not a loopback address; use tokens or an identity "
                    "provider")
            return cls(store=None, oidc=None, disabled=True)
        oidc = None
        if auth.jwks is not None:
            oidc = OidcVerifier(JwksSource(auth.jwks, refetch_min_s=auth.jwks_refetch_min_s),
                                issuer=auth.issuer, audience=auth.audience,
                                roles_claim=auth.roles_claim, leeway_s=auth.leeway_s)
        elif auth.mode == "oidc":
            raise ConfigError("LGSP_AUTH__MODE=oidc needs LGSP_AUTH__JWKS (a file or an "
                              "https URL of the identity provider's keys)")
        store = TokenStore(tokens_file(settings)) if auth.mode != "oidc" else None
        return cls(store=store, oidc=oidc)

    async def start(self) -> None:
        """Load the identity provider's keys now, so a wrong JWKS fails the start."""
        if self.oidc is not None:
            await self.oidc.jwks.load()

    async def authenticate(self, authorization: str | None) -> Principal:
        """The caller proven by an `Authorization` header value; UnauthenticatedError if none.

        The message is the same for every failure: telling a caller which part of a token
        was wrong would help someone forging one.
        """
        if self.disabled:
            return ANONYMOUS
        if not authorization or authorization[:len(_BEARER)].lower() != _BEARER:
            raise UnauthenticatedError(
                "authentication required: send Authorization: Bearer <token>")
        token = authorization[len(_BEARER):].strip()
        if self.store is not None and token.startswith("lgsp_"):
            stored = self.store.lookup(token)
            if stored is not None:
                return Principal(f"token:{stored.name}", frozenset({stored.role}))
        elif self.oidc is not None and token.count(".") == 2:
            return await self.oidc.verify(token)
        raise UnauthenticatedError("the token is not valid")

    @staticmethod
    def authorize(principal: Principal, permission: Permission) -> None:
        """ForbiddenError naming the role needed unless the principal holds it."""
        if not allows(principal.roles, permission.role):
            raise ForbiddenError(f"this operation needs the {permission.role.value} role "
                                 "(or admin)")


def ensure_first_admin(settings: Settings) -> Path | None:
    """Secure by default: on the very first start with neither tokens nor an identity
    provider, create one admin token in a 0600 file and return that file's path.

    Only the path may be logged; the token is read from the file by its owner (the CLI
    does so by itself on the same machine).
    """
    auth = settings.auth
    if auth.mode in ("none", "oidc") or auth.jwks is not None:
        return None
    store = TokenStore(tokens_file(settings))
    if store.exists:
        if not store.all():
            _log.warning("no API tokens: nobody can call the admin API; create one with "
                         "`lgsp tokens create --name NAME --role admin`",
                         tokens_file=str(store.path))
        return None
    token = store.create("admin", Role.ADMIN, only_if_new_store=True)
    if token is None:  # another gateway sharing this state dir was first
        return None
    path = store.path.parent / ADMIN_TOKEN_FILE
    write_private(path, (token + "\n").encode())
    return path


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
