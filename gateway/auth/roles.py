"""The one role table: which role each admin operation needs, and what each role grants.

Roles are those of the gateway's users: `viewer` reads; `integrator` also creates,
configures, validates and deletes connectors; `operator` also pauses, resumes and
restarts them; `replayer` also starts replays and traces transactions; `admin` may do
everything, tokens included. An operation missing from the table needs `admin`: a new
endpoint is closed until someone decides who may call it.
"""

from __future__ import annotations

__all__ = [
    "PUBLIC_PATHS",
    "ROLES",
    "ROLE_TABLE",
    "SESSION_PREFIXES",
    "Permission",
    "Role",
    "allows",
    "permission_for",
    "role_named",
    "uses_session",
]

import enum
from dataclasses import dataclass


class Role(enum.StrEnum):
    """A role a token or identity-provider user holds."""

    VIEWER = "viewer"
    INTEGRATOR = "integrator"
    OPERATOR = "operator"
    REPLAYER = "replayer"
    ADMIN = "admin"


ROLES: tuple[Role, ...] = tuple(Role)

# What each role may do besides its own operations: every role includes viewer, admin all.
_INCLUDES: dict[Role, frozenset[Role]] = {
    Role.VIEWER: frozenset({Role.VIEWER}),
    Role.INTEGRATOR: frozenset({Role.INTEGRATOR, Role.VIEWER}),
    Role.OPERATOR: frozenset({Role.OPERATOR, Role.VIEWER}),
    Role.REPLAYER: frozenset({Role.REPLAYER, Role.VIEWER}),
    Role.ADMIN: frozenset(Role),
}

PUBLIC_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
"""Answered without credentials: what orchestrators and Prometheus poll."""

SESSION_PREFIXES = ("/console",)
"""Paths that sign people in with a session cookie instead of a bearer header: the web
console (gateway/console) checks the session, CSRF and this same table itself."""


def uses_session(path: str) -> bool:
    """Whether `path` is under one of SESSION_PREFIXES (the console's own door)."""
    return any(path == p or path.startswith(f"{p}/") for p in SESSION_PREFIXES)


@dataclass(frozen=True, slots=True)
class Permission:
    """What calling one operation needs, and how a change is named in the audit trail."""

    role: Role
    action: str | None = None
    """Audit action of a change (e.g. `connector.create`); None for a read."""
    target: str = ""
    """How the audit names the target: `{name}` style placeholders of the path."""


ROLE_TABLE: dict[tuple[str, str], Permission] = {
    ("GET", "/openapi.json"): Permission(Role.VIEWER),
    ("GET", "/connectors"): Permission(Role.VIEWER),
    ("POST", "/connectors"): Permission(Role.INTEGRATOR, "connector.create", "connector"),
    ("GET", "/connectors/{name}"): Permission(Role.VIEWER),
    ("DELETE", "/connectors/{name}"): Permission(Role.INTEGRATOR, "connector.delete",
                                                 "connector {name}"),
    ("GET", "/connectors/{name}/status"): Permission(Role.VIEWER),
    ("GET", "/connectors/{name}/config"): Permission(Role.VIEWER),
    ("PUT", "/connectors/{name}/config"): Permission(Role.INTEGRATOR, "connector.configure",
                                                     "connector {name}"),
    ("PUT", "/connectors/{name}/pause"): Permission(Role.OPERATOR, "connector.pause",
                                                    "connector {name}"),
    ("PUT", "/connectors/{name}/resume"): Permission(Role.OPERATOR, "connector.resume",
                                                     "connector {name}"),
    ("POST", "/connectors/{name}/restart"): Permission(Role.OPERATOR, "connector.restart",
                                                       "connector {name}"),
    ("GET", "/connector-plugins"): Permission(Role.VIEWER),
    ("PUT", "/connector-plugins/{plugin}/config/validate"): Permission(Role.INTEGRATOR),
    ("POST", "/replays"): Permission(Role.REPLAYER, "replay.start", "replay"),
    ("GET", "/replays"): Permission(Role.VIEWER),
    ("GET", "/replays/{replay_id}"): Permission(Role.VIEWER),
    ("GET", "/transactions/{transaction_id}"): Permission(Role.REPLAYER),
    # The transaction index (gateway/index): finding transactions is tracing them (they
    # carry business keys); the health of each national service is a status.
    ("GET", "/transactions"): Permission(Role.REPLAYER),
    ("GET", "/services"): Permission(Role.VIEWER),
    # A router-only gateway answers every connector path with a 409 naming the gateway
    # that runs them: telling that to any known caller is harmless.
    ("*", "/connectors{tail}"): Permission(Role.VIEWER),
    ("*", "/connector-plugins{tail}"): Permission(Role.VIEWER),
}
"""(method, aiohttp path template) -> permission. The README's role table is this one."""

_ADMIN_ONLY = Permission(Role.ADMIN)


def permission_for(method: str, path: str) -> Permission:
    """The permission an operation needs (HEAD as GET); unknown operations need admin."""
    method = "GET" if method == "HEAD" else method
    return ROLE_TABLE.get((method, path)) or ROLE_TABLE.get(("*", path), _ADMIN_ONLY)


def allows(held: frozenset[Role], needed: Role) -> bool:
    """Whether any held role grants `needed`."""
    return any(needed in _INCLUDES[role] for role in held)


def role_named(name: str) -> Role | None:
    """The role of that name, or None (identity providers carry roles of other systems)."""
    try:
        return Role(name)
    except ValueError:
        return None
