"""Replay errors that callers tell apart (the API maps them to 404, 422 and 409).

All are `ReplayError`s from `gateway.errors`, so code that only knows the hierarchy
still sees "a replay selection problem, retrying will not help".
"""

from __future__ import annotations

__all__ = ["EmptySelectionError", "ReplayBusyError", "UnknownTransactionError"]

from gateway.errors import ReplayError


class UnknownTransactionError(ReplayError):
    """A transaction id names nothing the gateway has seen (or, for replay, no failure)."""


class EmptySelectionError(ReplayError):
    """No dead-lettered transaction matches the replay filter."""


class ReplayBusyError(ReplayError):
    """This gateway is already running a replay; one at a time keeps the rate honest."""
