"""A trace for people (a short timeline) and for machines (JSON-ready data)."""

from __future__ import annotations

__all__ = ["trace_json", "trace_lines"]

from dataclasses import asdict
from datetime import datetime
from typing import Any

from gateway.trace.model import EventKind, TransactionTrace

_TAGGED = (EventKind.ATTEMPT, EventKind.DELIVERED, EventKind.DEAD_LETTERED)
_STATUS_TEXT = {
    "DELIVERED": "the national service has it",
    "DEAD_LETTERED": "dead-lettered: waiting to be replayed (lgsp replay --id {id})",
    "REPLAY_PENDING": "re-submitted by a replay; waiting for the router's outcome",
    "IN_FLIGHT": "ingested; the router has not finished with it yet",
}


def _local(moment: datetime) -> str:
    # Operators read their own clock; the JSON form keeps UTC.
    return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


def trace_lines(trace: TransactionTrace) -> list[str]:
    """The trace as lines of text: a header, then one line per event, oldest first."""
    status = _STATUS_TEXT[trace.status.value].format(id=trace.transaction_id)
    lines = [f"transaction {trace.transaction_id}: {trace.status.value} ({status})"]
    facts = [f"{name} {value}" for name, value in (
        ("connector", trace.connector), ("service", trace.service),
        ("type", trace.message_type), ("correlation", trace.correlation_id),
        ("receipt", trace.receipt_id)) if value]
    if facts:
        lines.append("  " + ", ".join(facts))
    if trace.ingested is None:
        lines.append("  ingestion record not found (the connector topic may have expired)")
    lines.append("")
    for event in trace.events:
        # Summaries read as sentences ("attempt 2: ...", "delivered to ..."), so no label.
        where = f" [replay {event.replay_id}]" if event.replay_id and event.kind in _TAGGED \
            else ""
        lines.append(f"  {_local(event.at)}  {event.summary}{where}")
    return lines


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat(timespec="milliseconds")
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value


def trace_json(trace: TransactionTrace) -> dict[str, Any]:
    """The trace as JSON-ready data (times as ISO-8601 UTC)."""
    data: dict[str, Any] = _jsonable(asdict(trace))
    return data
