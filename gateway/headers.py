"""Every Kafka record header name the gateway writes or reads, defined once.

Dead-letter records reuse Kafka Connect's `__connect.errors.*` names where the meaning is
the same (ConnectorConfig / DeadLetterQueueReporter), so existing DLQ viewers read them;
`lgsp.*` names are ours.
"""

from __future__ import annotations

# On every transaction record: its id (also the NDXP idempotency key).
H_TRANSACTION = "lgsp.transaction_id"
# On a re-submission: the replay run that sent it.
H_REPLAY = "lgsp.replay_id"
H_REPLAY_SOURCE = "lgsp.replay.dead_letter"
"""On a re-submission: `<partition>:<offset>` of the dead-letter record it re-submits.

This is what makes a replay exactly-once per failure without trusting clocks: a
dead-letter record whose coordinates a submission names has been replayed."""

# On a transaction held for a national service that is unavailable (a hold topic record).
H_HOLD_SINCE = "lgsp.hold.since_ms"
"""When the transaction was first held (epoch milliseconds); kept when it is held again."""
H_HOLD_REASON = "lgsp.hold.reason"
H_HOLD_SOURCE = "lgsp.hold.source"
"""`<topic>:<partition>:<offset>` of the record the hold copy was made from."""
H_HOLD_RECONCILE = "lgsp.hold.reconcile"
"""Present when the national side may already have it: looked up before it is sent."""
HOLD_PREFIX = "lgsp.hold."

# Kafka Connect's dead-letter header names.
H_TOPIC = "__connect.errors.topic"
H_PARTITION = "__connect.errors.partition"
H_OFFSET = "__connect.errors.offset"
H_CONNECTOR = "__connect.errors.connector.name"
H_STAGE = "__connect.errors.stage"
H_EXCEPTION = "__connect.errors.exception.class.name"
H_MESSAGE = "__connect.errors.exception.message"
# Ours, on dead letters.
H_SERVICE = "lgsp.errors.service"
H_ATTEMPTS = "lgsp.errors.attempts"
H_FIRST_FAILURE = "lgsp.errors.first_failure_at"
H_LAST_FAILURE = "lgsp.errors.last_failure_at"
H_RETRIABLE = "lgsp.errors.retriable"
H_STATUS = "lgsp.errors.http_status"

# The headers a dead letter's reasons are written under (replaced, not stacked, when a
# record fails again), and those a re-submission strips before sending the record again.
ERROR_PREFIXES = ("__connect.errors.", "lgsp.errors.")
REPLAY_PREFIX = "lgsp.replay"
