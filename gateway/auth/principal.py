"""Who a request comes from, once its credentials are checked."""

from __future__ import annotations

__all__ = ["Principal"]

from dataclasses import dataclass

from gateway.auth.roles import Role


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller: `token:<name>`, `oidc:<user>` or `anonymous` (mode none)."""

    subject: str
    roles: frozenset[Role]
