"""The stub's transaction counts, as `GET /ndxp/v1/stats` reports them.

`unique` comes from the idempotency store, so it includes keys loaded from the journal
and survives restarts. `duplicates` and `rejected` count since this process started,
and `received` is always `unique + duplicates`: every accepted transaction, first time
or again. Refusals (validation, unknown service, injected faults) count in `rejected`
only; authentication and IP refusals never reach a service and are not counted here
(they show in `lgsp_stub_requests_total`).
"""

from __future__ import annotations

__all__ = ["Stats"]

from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any


class Stats:
    """Counts of accepted and refused transactions, per national service."""

    def __init__(self, unique_by_service: Callable[[], Mapping[str, int]]) -> None:
        self._unique_by_service = unique_by_service
        self._duplicates: Counter[str] = Counter()
        self._rejected = 0

    def duplicate(self, service: str) -> None:
        """A transaction whose key had been accepted before was answered again."""
        self._duplicates[service] += 1

    def rejected(self, count: int = 1) -> None:
        """Transactions were refused and nothing was recorded for them."""
        self._rejected += count

    def snapshot(self) -> dict[str, Any]:
        """The JSON body of `GET /ndxp/v1/stats`."""
        unique = self._unique_by_service()
        by_service: dict[str, dict[str, int]] = {}
        for service in sorted(unique.keys() | self._duplicates.keys()):
            first, again = unique.get(service, 0), self._duplicates[service]
            by_service[service] = {"received": first + again, "unique": first,
                                   "duplicates": again}
        total_unique = sum(unique.values())
        total_duplicates = self._duplicates.total()
        return {
            "received": total_unique + total_duplicates,
            "unique": total_unique,
            "duplicates": total_duplicates,
            "rejected": self._rejected,
            "by_service": by_service,
        }
