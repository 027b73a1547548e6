"""Every Prometheus metric of the gateway and of the NDXP stub, defined once.

Each process exposes one registry: `GATEWAY` for `lgsp run`, `STUB` for `lgsp stub`.
Names follow Prometheus conventions: `lgsp_` prefix, `_total` counters, `_seconds`
histograms in base units.

`lgsp_transactions_total{outcome}`: `delivered` and `dead_lettered` are final outcomes
(each transaction ends in exactly one of them per attempt chain); `retried` counts each
retry scheduled after a transient failure.
"""

from __future__ import annotations

__all__ = [
    "AUDIT_FAILURES",
    "AUDIT_RECORDS",
    "AUTH_REFUSALS",
    "CIRCUIT_STATE",
    "CONNECTOR_STATE",
    "CONSUMER_LAG",
    "DEAD_LETTERED",
    "END_TO_END_LATENCY",
    "FORWARD_BATCH_SIZE",
    "FORWARD_DURATION",
    "GATEWAY",
    "HELD",
    "HELD_OLDEST_AGE",
    "INDEX_DELAY",
    "INDEX_RECORDS",
    "INDEX_WRITE_ERRORS",
    "INGESTED",
    "IN_FLIGHT",
    "KAFKA_READY",
    "OUTCOME_DEAD_LETTERED",
    "OUTCOME_DELIVERED",
    "OUTCOME_HELD",
    "OUTCOME_RETRIED",
    "RECONCILED",
    "RECONCILE_ABSENT",
    "RECONCILE_FAILED",
    "RECONCILE_FOUND",
    "REPLAYED",
    "STUB",
    "STUB_DUPLICATES",
    "STUB_REQUESTS",
    "STUB_REQUEST_DURATION",
    "TRANSACTIONS",
    "render",
]

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

GATEWAY = CollectorRegistry(auto_describe=True)
STUB = CollectorRegistry(auto_describe=True)

OUTCOME_DELIVERED = "delivered"
OUTCOME_RETRIED = "retried"
OUTCOME_DEAD_LETTERED = "dead_lettered"
# Moved to its service's hold topic while the service is unavailable (not final).
OUTCOME_HELD = "held"

# Results of asking a national service whether it already has a transaction.
RECONCILE_FOUND = "found"
RECONCILE_ABSENT = "absent"
RECONCILE_FAILED = "failed"

# Latency buckets from 1 ms to 60 s: national calls are usually tens of milliseconds,
# but a backlog after an outage shows up in the tail.
_LATENCY_BUCKETS = (
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
    30.0, 60.0,
)

TRANSACTIONS = Counter(
    "lgsp_transactions",
    "Transactions handled by the router, by connector, national service and outcome.",
    ["connector", "service", "outcome"],
    registry=GATEWAY,
)
FORWARD_DURATION = Histogram(
    "lgsp_forward_duration_seconds",
    "Duration of one HTTP forward to a national service, successful or not.",
    ["service"],
    buckets=_LATENCY_BUCKETS,
    registry=GATEWAY,
)
FORWARD_BATCH_SIZE = Histogram(
    "lgsp_forward_batch_size",
    "Transactions per batch request to a national service, by kind: `submit` sends them, "
    "`lookup` asks whether they arrived. Its _count is the number of batch requests.",
    ["service", "kind"],
    buckets=(1, 2, 5, 10, 25, 50, 100, 200, 300, 400, 500),
    registry=GATEWAY,
)
END_TO_END_LATENCY = Histogram(
    "lgsp_end_to_end_latency_seconds",
    "Time from a transaction's occurred-at at the source to its delivery.",
    ["connector", "service"],
    buckets=_LATENCY_BUCKETS,
    registry=GATEWAY,
)
RECONCILED = Counter(
    "lgsp_reconciliations",
    "Lookups asking a national service whether it already has a transaction before it is "
    "sent (after an unanswered send, a router crash or for a replay), by result: `found` "
    "would have been a duplicate, `absent` is then sent, `failed` is retried.",
    ["service", "result"],
    registry=GATEWAY,
)
DEAD_LETTERED = Counter(
    "lgsp_dead_lettered",
    "Transactions written to the dead-letter topic, by reason (error class).",
    ["connector", "service", "reason"],
    registry=GATEWAY,
)
CIRCUIT_STATE = Gauge(
    "lgsp_circuit_state",
    "Circuit breaker state per national service: 0 closed, 1 half-open, 2 open.",
    ["service"],
    registry=GATEWAY,
)
HELD = Gauge(
    "lgsp_held_transactions",
    "Transactions held for a national service that is unavailable, in its hold topic "
    "(partitions this router owns); they flow again by themselves when it answers.",
    ["service"],
    registry=GATEWAY,
)
HELD_OLDEST_AGE = Gauge(
    "lgsp_held_oldest_age_seconds",
    "Age of the oldest transaction held for a national service (0 when none is held).",
    ["service"],
    registry=GATEWAY,
)
CONSUMER_LAG = Gauge(
    "lgsp_consumer_lag",
    "Records in a topic partition not yet consumed by the router's group.",
    ["topic", "partition"],
    registry=GATEWAY,
)
IN_FLIGHT = Gauge(
    "lgsp_in_flight_transactions",
    "Transactions consumed by the router whose outcome is not final yet.",
    registry=GATEWAY,
)
INGESTED = Counter(
    "lgsp_ingested",
    "Transactions published by connectors and acknowledged by Kafka.",
    ["connector"],
    registry=GATEWAY,
)
CONNECTOR_STATE = Gauge(
    "lgsp_connector_state",
    "1 for the connector's current state (RUNNING, PAUSED, FAILED, UNASSIGNED), else 0.",
    ["connector", "state"],
    registry=GATEWAY,
)
REPLAYED = Counter(
    "lgsp_replayed",
    "Dead-lettered transactions re-submitted by a replay, by result.",
    ["result"],
    registry=GATEWAY,
)
KAFKA_READY = Gauge(
    "lgsp_kafka_ready",
    "1 while the gateway's Kafka clients are connected, else 0.",
    registry=GATEWAY,
)

# --- the transaction index (gateway/index/) --------------------------------------------
INDEX_RECORDS = Counter(
    "lgsp_index_records",
    "Records the transaction index has read, by topic kind (source, ledger, dead_letter, "
    "replay, audit) and whether they were indexed or skipped (not a transaction's).",
    ["kind", "result"],
    registry=GATEWAY,
)
INDEX_DELAY = Histogram(
    "lgsp_index_delay_seconds",
    "From a record's Kafka timestamp to the index commit that holds it (oldest of a batch).",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600),
    registry=GATEWAY,
)
INDEX_WRITE_ERRORS = Counter(
    "lgsp_index_write_errors",
    "Index batches that could not be written (retried until the store answers).",
    registry=GATEWAY,
)

STUB_REQUESTS = Counter(
    "lgsp_stub_requests",
    "Requests received by the NDXP stub, by service and result.",
    ["service", "result"],
    registry=STUB,
)
STUB_DUPLICATES = Counter(
    "lgsp_stub_duplicates",
    "Requests whose Idempotency-Key the stub had already accepted.",
    ["service"],
    registry=STUB,
)
STUB_REQUEST_DURATION = Histogram(
    "lgsp_stub_request_duration_seconds",
    "Time the NDXP stub took to answer, including injected latency.",
    ["service"],
    buckets=_LATENCY_BUCKETS,
    registry=STUB,
)


# --- admin API authentication and the audit trail (issue 14) ---------------------------

AUTH_REFUSALS = Counter(
    "lgsp_auth_refusals",
    "Admin API requests refused: 401 (no or bad credentials) or 403 (role lacking).",
    ["status"],
    registry=GATEWAY,
)
AUDIT_RECORDS = Counter(
    "lgsp_audit_records",
    "Records appended to the signed audit trail, by action.",
    ["action"],
    registry=GATEWAY,
)
AUDIT_FAILURES = Counter(
    "lgsp_audit_write_failures",
    "Changes that could not be written to the audit trail (alert on any).",
    registry=GATEWAY,
)


def render(registry: CollectorRegistry) -> bytes:
    """The registry in Prometheus text exposition format."""
    return generate_latest(registry)
