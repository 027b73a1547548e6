"""The stub's Prometheus metrics (defined in gateway.metrics on the STUB registry).

Label children are looked up once and cached: `labels()` takes a lock and hashes its
arguments, which adds up at thousands of requests per second. Service codes not in the
catalogue share the label `unknown`, so a caller cannot grow the label set at will.
"""

from __future__ import annotations

__all__ = [
    "RESULT_ACCEPTED",
    "RESULT_DUPLICATE",
    "RESULT_FOUND",
    "RESULT_NOT_FOUND",
    "Meter",
    "service_label",
]

from prometheus_client import Counter, Histogram

from gateway.metrics import STUB_DUPLICATES, STUB_REQUEST_DURATION, STUB_REQUESTS
from gateway.ndxp.catalogue import BUILT_IN_CATALOGUE, Catalogue

RESULT_ACCEPTED = "accepted"
RESULT_DUPLICATE = "duplicate"
# Lookups of a transaction's receipt (not transactions themselves).
RESULT_FOUND = "found"
RESULT_NOT_FOUND = "not_found"
_UNKNOWN_SERVICE = "unknown"


def service_label(service: str, catalogue: Catalogue = BUILT_IN_CATALOGUE) -> str:
    """The `service` label value for a requested service code."""
    return service if catalogue.find(service) is not None else _UNKNOWN_SERVICE


class Meter:
    """Records requests, duplicates and answer times of the stub."""

    def __init__(self, catalogue: Catalogue = BUILT_IN_CATALOGUE) -> None:
        self._catalogue = catalogue
        self._requests: dict[tuple[str, str], Counter] = {}
        self._duplicates: dict[str, Counter] = {}
        self._durations: dict[str, Histogram] = {}

    def request(self, service: str, result: str, count: int = 1) -> None:
        """`count` requests for `service` ended with `result`: a result code, or
        `accepted` / `duplicate` for transactions, `found` / `not_found` for lookups."""
        key = (service_label(service, self._catalogue), result)
        child = self._requests.get(key)
        if child is None:
            child = self._requests[key] = STUB_REQUESTS.labels(*key)
        child.inc(count)
        if result == RESULT_DUPLICATE:
            label = key[0]
            duplicates = self._duplicates.get(label)
            if duplicates is None:
                duplicates = self._duplicates[label] = STUB_DUPLICATES.labels(label)
            duplicates.inc(count)

    def duration(self, service: str, seconds: float) -> None:
        """One request for `service` was answered after `seconds`."""
        label = service_label(service, self._catalogue)
        child = self._durations.get(label)
        if child is None:
            child = self._durations[label] = STUB_REQUEST_DURATION.labels(label)
        child.observe(seconds)
