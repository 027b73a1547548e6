"""What the console reads and acts on: the gateway's own parts, in the same process."""

from __future__ import annotations

__all__ = ["ConsoleSources"]

from dataclasses import dataclass

from gateway.admin.limits import ReadLimiter
from gateway.audit.event import AuditSink
from gateway.auth import Authenticator
from gateway.connect import ConnectorRuntime
from gateway.index import IndexService
from gateway.replay import ReplayService
from gateway.settings import Settings
from gateway.trace import Tracer


@dataclass(frozen=True, slots=True)
class ConsoleSources:
    """The parts behind the admin API, which the console calls directly (no HTTP hop):
    the same checks apply, because each console route stands for one API operation of
    the role table (gateway/console/routes.py)."""

    settings: Settings
    authenticator: Authenticator
    audit: AuditSink | None
    runtime: ConnectorRuntime | None
    """None when this gateway does not run connectors."""
    index: IndexService | None
    """None when the transaction index does not run here (no search then)."""
    replay: ReplayService | None
    tracer: Tracer | None
    """Traces from the topics, when there is no index."""
    router_here: bool
    """Whether this process runs the router (its gauges are then meaningful)."""
    reads: ReadLimiter
    """The gateway's bound on expensive reads, shared with the API's."""
