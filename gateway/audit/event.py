"""One change, as the audit trail records it: who did what to what, from where, and how
it ended."""

from __future__ import annotations

__all__ = ["AuditEvent", "AuditSink", "Result"]

import enum
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime


class Result(enum.StrEnum):
    """How the change ended (the schema's AuditResult enum)."""

    SUCCESS = "SUCCESS"
    FAILURE = "FAILURE"
    DENIED = "DENIED"


@dataclass(frozen=True, slots=True)
class AuditEvent:
    """A change attempted through the API or the CLI."""

    subject: str
    """Who: `token:<name>`, `oidc:<user>`, `anonymous`, or `os:<user>` for local CLI use."""
    action: str
    """What, e.g. `connector.create`, `replay.start`, `token.revoke`."""
    target: str
    """On what, e.g. `connector ioffice-camau`, `replay 5b6f...`, `token ops-bot`."""
    client: str
    """From where: the client address (`api@10.0.0.7`) or `cli@<host>`."""
    result: Result
    status: int = 0
    """The HTTP status the API answered (0 for the CLI)."""
    detail: str | None = None
    at: datetime = field(default_factory=lambda: datetime.now(UTC))


AuditSink = Callable[[AuditEvent], Awaitable[None]]
"""Where the admin API hands each change (the audit trail's `record`)."""
