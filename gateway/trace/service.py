"""Trace inside the gateway process: `GET /transactions/{id}` on the admin API."""

from __future__ import annotations

__all__ = ["TraceService"]

from collections.abc import Sequence

from gateway.admin import RouteSpec
from gateway.admin.limits import ReadLimiter
from gateway.contracts import Codec
from gateway.settings import Settings
from gateway.topics import Topics
from gateway.trace.api import trace_operations
from gateway.trace.tracer import Tracer


class TraceService:
    """A gateway `Service` and `RouteProvider` answering `GET /transactions/{id}`."""

    def __init__(self, settings: Settings, *, codec: Codec, topics: Topics,
                 reads: ReadLimiter | None = None) -> None:
        self.tracer = Tracer(settings.bootstrap_servers, topics, codec)
        # Shared with replay history when the gateway passes one: the bound is per gateway.
        self.reads = reads or ReadLimiter.of(settings)

    async def start(self) -> None:
        """Nothing to start: each trace opens its own readers."""

    async def stop(self) -> None:
        """Nothing to stop."""

    def ready(self) -> bool:
        """Always ready: a trace needs nothing beyond Kafka, which /readyz checks."""
        return True

    def routes(self) -> Sequence[RouteSpec]:
        """The admin API operation of trace."""
        return trace_operations(self.tracer, self.reads)
