"""Replay: provincial IT finds failed transactions and re-submits them safely.

Selection (selection.py) reads the dead-letter, replay and ledger topics and picks, per
transaction, its latest failure if it matches the filter, was not re-submitted yet and
is not delivered; the submit pass (submit.py) re-sends the original records, ids kept,
to the replay topic at a bounded rate; the router reconciles each with the national
side before sending; watch.py waits for the ledger outcomes; audit.py records every run.
`lgsp replay` (Kafka directly) and `POST /replays` (ReplayService in the gateway) share
the `Replayer` engine.
"""

from gateway.errors import EmptySelectionError, ReplayBusyError, UnknownTransactionError
from gateway.replay.audit import AUDIT_SCHEMA, AuditRecord, AuditStatus, read_audits
from gateway.replay.deadletters import DeadLetter
from gateway.replay.engine import (
    Replayer,
    ReplayListener,
    ReplayRequest,
    ReplayRun,
    new_replay_id,
)
from gateway.replay.filters import MAX_RATE, ReplayFilter, parse_rate
from gateway.replay.masking import masked
from gateway.replay.ratelimit import TokenBucket
from gateway.replay.selection import Selection
from gateway.replay.service import ReplayService
from gateway.replay.timeparse import format_age, parse_time

__all__ = [
    "AUDIT_SCHEMA",
    "MAX_RATE",
    "AuditRecord",
    "AuditStatus",
    "DeadLetter",
    "EmptySelectionError",
    "ReplayBusyError",
    "ReplayFilter",
    "ReplayListener",
    "ReplayRequest",
    "ReplayRun",
    "ReplayService",
    "Replayer",
    "Selection",
    "TokenBucket",
    "UnknownTransactionError",
    "format_age",
    "masked",
    "new_replay_id",
    "parse_rate",
    "parse_time",
    "read_audits",
]
