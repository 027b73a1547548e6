"""Trace one transaction end to end: ingested, attempts, dead letters, replays, receipt.

`Tracer(bootstrap, topics, codec).trace(id)` reads the ledger, dead-letter, replay and
audit topics (and, for a transaction still in flight, the connector topics) and returns
a `TransactionTrace`; `trace_lines` renders it for people, `trace_json` for machines.
`lgsp trace ID` and `GET /transactions/{id}` are its two faces.
"""

from gateway.trace.model import EventKind, Ingestion, TraceEvent, TraceStatus, TransactionTrace
from gateway.trace.render import trace_json, trace_lines
from gateway.trace.tracer import Tracer

__all__ = [
    "EventKind",
    "Ingestion",
    "TraceEvent",
    "TraceStatus",
    "Tracer",
    "TransactionTrace",
    "trace_json",
    "trace_lines",
]
