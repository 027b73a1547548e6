"""Dead-letter records as replay sees them, and the headers of a re-submission.

A dead-letter record is the original record (key, value, headers) plus the router's
failure headers (`__connect.errors.*`, `lgsp.errors.*`, see gateway/router/outcomes.py).
A re-submission is the original again: same key and value, the original headers without
any failure or earlier replay headers, plus `lgsp.replay_id` and
`lgsp.replay.dead_letter` naming the dead-letter record it re-submits.
"""

from __future__ import annotations

__all__ = [
    "DeadLetter",
    "resubmission_headers",
    "source_marker",
]

import sys
from dataclasses import dataclass

from gateway.headers import (
    ERROR_PREFIXES,
    H_ATTEMPTS,
    H_CONNECTOR,
    H_EXCEPTION,
    H_MESSAGE,
    H_REPLAY,
    H_REPLAY_SOURCE,
    H_SERVICE,
    H_STAGE,
    H_STATUS,
    H_TOPIC,
    H_TRANSACTION,
    REPLAY_PREFIX,
)
from gateway.kafka import Header, Record

_STRIPPED_PREFIXES = (*ERROR_PREFIXES, REPLAY_PREFIX)
# Messages can be long (a whole HTTP body); the table and the audit need the gist.
_MESSAGE_CHARS = 300


def source_marker(partition: int, offset: int) -> str:
    """The `lgsp.replay.dead_letter` value for a dead-letter record."""
    return f"{partition}:{offset}"


def _count(text: str) -> int | None:
    """A small non-negative number written by the router, or None for anything else
    (a planted header such as "²" or ten thousand digits must not break a scan)."""
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 9 else None


def _text(headers: dict[str, bytes], name: str) -> str:
    raw = headers.get(name)
    return raw.decode(errors="replace") if raw is not None else ""


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """One dead-letter record: where it is, which transaction, and why it failed."""

    transaction_id: str
    partition: int
    offset: int
    timestamp_ms: int
    connector: str
    service: str
    error_class: str
    message: str
    attempts: int
    stage: str
    http_status: int | None
    failed_topic: str
    replay_id: str | None

    @property
    def error_short(self) -> str:
        """The error class without its module: TransientForwardError."""
        return self.error_class.rpartition(".")[2]

    @property
    def marker(self) -> str:
        """Its `lgsp.replay.dead_letter` value."""
        return source_marker(self.partition, self.offset)

    @classmethod
    def from_record(cls, rec: Record) -> DeadLetter | None:
        """The view of a dead-letter record; None when it names no transaction id.

        Records the router could not decode carry no id and cannot be replayed: the same
        bytes would fail the same way.
        """
        # One dict per record instead of a header search per field: this runs for every
        # record of the dead-letter topic (later duplicates win, as Record.header does).
        headers = dict(rec.headers)
        tx = headers.get(H_TRANSACTION)
        if not tx:
            return None
        attempts_text = _text(headers, H_ATTEMPTS)
        status_text = _text(headers, H_STATUS)
        # Interned: a backlog repeats the same few connectors, services and errors, so a
        # million candidates share these strings instead of holding a copy each.
        return cls(
            transaction_id=tx.decode(errors="replace"),
            partition=rec.partition,
            offset=rec.offset,
            timestamp_ms=rec.timestamp_ms,
            connector=sys.intern(_text(headers, H_CONNECTOR)),
            service=sys.intern(_text(headers, H_SERVICE)),
            error_class=sys.intern(_text(headers, H_EXCEPTION)),
            message=_text(headers, H_MESSAGE)[:_MESSAGE_CHARS],
            attempts=_count(attempts_text) or 0,
            stage=sys.intern(_text(headers, H_STAGE)),
            http_status=_count(status_text),
            failed_topic=sys.intern(_text(headers, H_TOPIC)),
            replay_id=_text(headers, H_REPLAY) or None,
        )

    def newer_than(self, other: DeadLetter) -> bool:
        """Whether this record was written after `other` (same transaction).

        One transaction's dead letters share a key, hence a partition, where the offset
        orders them exactly; across partitions (keyless records) the timestamp decides.
        """
        if self.partition == other.partition:
            return self.offset > other.offset
        return (self.timestamp_ms, self.offset) > (other.timestamp_ms, other.offset)


def resubmission_headers(rec: Record, replay_id: str) -> list[Header]:
    """The original headers of a dead-letter record, plus this replay's own."""
    kept = [(k, v) for k, v in rec.headers if not k.startswith(_STRIPPED_PREFIXES)]
    return [*kept, (H_REPLAY, replay_id.encode()),
            (H_REPLAY_SOURCE, source_marker(rec.partition, rec.offset).encode())]
