"""What the router needs from the national exchange (the NDXP client implements it)."""

from __future__ import annotations

__all__ = ["NationalExchange"]

from typing import Protocol

from gateway.ndxp import OutboundTransaction, Receipt


class NationalExchange(Protocol):
    """What the router needs from the NDXP client."""

    async def submit(self, service: str, tx: OutboundTransaction) -> Receipt:
        """Deliver one transaction; raises ForwardError subclasses."""

    async def lookup(self, service: str, transaction_id: str) -> Receipt | None:
        """The receipt if the national side already has this transaction, else None."""
