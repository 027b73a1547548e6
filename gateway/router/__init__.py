"""The router: connector topics -> routing table -> NDXP client -> outcome (ledger/DLQ)."""

from gateway.router.router import Router
from gateway.router.routing import RoutingTable

__all__ = ["Router", "RoutingTable"]
