"""The national-exchange (NDXP) stub: a real HTTP server the gateway forwards to.

It speaks the wire format of `gateway.ndxp.wire`: OAuth2 client-credentials tokens,
per-service transaction and batch endpoints honouring `Idempotency-Key` durably (an
append-only journal, group-committed), coded errors, fault injection (error rate,
latency, outage), stats, Prometheus metrics and health. `lgsp stub` runs it.
"""

from devkit.stub.app import build_app
from devkit.stub.config import StubConfig
from devkit.stub.journal import JOURNAL_NAME
from devkit.stub.server import StubServer

__all__ = ["JOURNAL_NAME", "StubConfig", "StubServer", "build_app"]
