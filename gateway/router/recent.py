"""The transactions this router delivered recently, to answer re-published copies.

A connector may legitimately publish a transaction again (a webhook resend after a
timeout, a page re-read after a crash); the copy shares the business key, so it reaches
the router after the first one's outcome and is answered from here instead of being
sent to the national side again.

Memory is bounded: two generations of plain dicts, the older dropped whole when the
newer fills half the capacity. That holds between capacity/2 and capacity entries with
no per-entry links (an OrderedDict costs a quarter more per entry), and lookups and
inserts stay O(1).
"""

from __future__ import annotations

__all__ = ["RecentDeliveries"]


class RecentDeliveries:
    """Transaction id -> receipt id of the last `capacity` (at least half as many) deliveries."""

    def __init__(self, capacity: int) -> None:
        self._half = max(1, capacity // 2) if capacity > 0 else 0
        self._current: dict[str, str] = {}
        self._previous: dict[str, str] = {}

    def get(self, transaction_id: str) -> str | None:
        """The receipt id if this transaction was delivered recently."""
        found = self._current.get(transaction_id)
        if found is None:
            found = self._previous.get(transaction_id)
        return found

    def add(self, transaction_id: str, receipt_id: str) -> None:
        """Remember a delivery, forgetting the oldest generation when full."""
        if not self._half:
            return
        self._current[transaction_id] = receipt_id
        if len(self._current) >= self._half:
            self._previous = self._current
            self._current = {}

    def __len__(self) -> int:
        return len(self._current) + len(self._previous)
