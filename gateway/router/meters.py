"""The router's metric series, looked up once per connector and service.

prometheus_client's `labels()` checks the label values and takes a lock on every call;
called four times per transaction it was a measurable share of the router's CPU time
(see `lgsp bench`), so each series is resolved once and kept.
"""

from __future__ import annotations

__all__ = ["RouterMeters"]

from prometheus_client import Counter, Histogram

from gateway.metrics import (
    END_TO_END_LATENCY,
    FORWARD_DURATION,
    OUTCOME_DELIVERED,
    OUTCOME_RETRIED,
    RECONCILED,
    TRANSACTIONS,
)


class RouterMeters:
    """Cached children of the router's labelled metrics (bounded by connectors x services)."""

    def __init__(self) -> None:
        self._durations: dict[str, Histogram] = {}
        self._outcomes: dict[tuple[str, str, str], Counter] = {}
        self._latencies: dict[tuple[str, str], Histogram] = {}
        self._reconciled: dict[tuple[str, str], Counter] = {}

    def forward_duration(self, service: str) -> Histogram:
        """`lgsp_forward_duration_seconds{service}`."""
        found = self._durations.get(service)
        if found is None:
            found = self._durations[service] = FORWARD_DURATION.labels(service=service)
        return found

    def transactions(self, connector: str, service: str, outcome: str) -> Counter:
        """`lgsp_transactions_total{connector,service,outcome}`."""
        key = (connector, service, outcome)
        found = self._outcomes.get(key)
        if found is None:
            found = self._outcomes[key] = TRANSACTIONS.labels(
                connector=connector, service=service, outcome=outcome)
        return found

    def retried(self, connector: str, service: str) -> Counter:
        """The `retried` series of `lgsp_transactions_total`."""
        return self.transactions(connector, service, OUTCOME_RETRIED)

    def delivered(self, connector: str, service: str) -> Counter:
        """The `delivered` series of `lgsp_transactions_total`."""
        return self.transactions(connector, service, OUTCOME_DELIVERED)

    def end_to_end(self, connector: str, service: str) -> Histogram:
        """`lgsp_end_to_end_latency_seconds{connector,service}`."""
        key = (connector, service)
        found = self._latencies.get(key)
        if found is None:
            found = self._latencies[key] = END_TO_END_LATENCY.labels(
                connector=connector, service=service)
        return found

    def reconciled(self, service: str, result: str) -> Counter:
        """`lgsp_reconciliations_total{service,result}`."""
        key = (service, result)
        found = self._reconciled.get(key)
        if found is None:
            found = self._reconciled[key] = RECONCILED.labels(service=service, result=result)
        return found
