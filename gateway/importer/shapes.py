"""What the envelope needs from a record of each message type: its keys and its time.

The built-in message types take what their connectors take (gateway/connect and
connectors/*), so an imported record is keyed, correlated and dated exactly like one the
live connector ingested: a dossier event by its dossier, a document by its id, a report
by unit, report and period. Other message types (a plugin's) name their fields with
`--business-key FIELD` and `--occurred-at FIELD`.
"""

from __future__ import annotations

__all__ = ["BUILT_IN_SHAPES", "RecordShape", "shape_for"]

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from gateway.errors import ConfigError
from gateway.importer.convert import InvalidFieldError

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

KeyOf = Callable[[Mapping[str, Any]], str]
TimeOf = Callable[[Mapping[str, Any]], datetime]


@dataclass(frozen=True, slots=True)
class RecordShape:
    """How one message type's datum yields the envelope's business key, correlation and time."""

    message_type: str
    source_system: str | None
    """The source system the live connector names (None: `--source-system` is required)."""
    business_key: KeyOf
    occurred_at: TimeOf
    correlation_id: KeyOf
    fill: Callable[[dict[str, Any], str], None] | None = None
    """Completes a datum before validation, given the input file's name."""


def _millis(datum: Mapping[str, Any], *names: str) -> datetime:
    for name in names:
        value = datum.get(name)
        if isinstance(value, int):
            return _EPOCH + timedelta(milliseconds=value)
    raise InvalidFieldError(names[0], "no time to date the transaction by")


def _text(datum: Mapping[str, Any], path: str) -> Any:
    value: Any = datum
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            raise InvalidFieldError(path, "required field is missing")
        value = value[part]
    return value


def _key_field(path: str) -> KeyOf:
    def key(datum: Mapping[str, Any]) -> str:
        value = _text(datum, path)
        if value is None or value == "":
            raise InvalidFieldError(path, "the business key must not be empty")
        return str(value)
    return key


def _time_field(path: str) -> TimeOf:
    def when(datum: Mapping[str, Any]) -> datetime:
        value = _text(datum, path)
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidFieldError(path, "expected a timestamp field (timestamp-millis)")
        return _EPOCH + timedelta(milliseconds=value)
    return when


def _report_key(datum: Mapping[str, Any]) -> str:
    # The reporting connector's key: unit, report and period (connectors/reporting/formats.py).
    p = datum["period"]
    return (f"{datum['reporting_unit_code']}:{datum['report_code']}:"
            f"{p['kind']}-{p['year']}-{p['number']}")


def _report_fill(datum: dict[str, Any], file_name: str) -> None:
    # The reporting connector records the file a report came from; so does an import.
    datum.setdefault("source_file", file_name)


BUILT_IN_SHAPES: dict[str, RecordShape] = {
    "onestop.dossier_event": RecordShape(
        "onestop.dossier_event", "one-stop", _key_field("dossier_code"),
        lambda d: _millis(d, "completed_at", "received_at"), _key_field("dossier_code")),
    "ioffice.document": RecordShape(
        "ioffice.document", "ioffice", _key_field("document_id"),
        lambda d: _millis(d, "modified_at"), _key_field("document_id")),
    "reporting.report_submission": RecordShape(
        "reporting.report_submission", "reporting", _report_key,
        lambda d: _millis(d, "submitted_at"), _report_key, _report_fill),
}


def shape_for(message_type: str, *, business_key: str | None = None,
              occurred_at: str | None = None) -> RecordShape:
    """The built-in shape of a message type, with any field named on the command line."""
    built_in = BUILT_IN_SHAPES.get(message_type)
    if built_in is None and (business_key is None or occurred_at is None):
        raise ConfigError(
            f"message type {message_type!r} is not one of the built-in ones "
            f"({', '.join(BUILT_IN_SHAPES)}): give --business-key FIELD and --occurred-at FIELD")
    key = _key_field(business_key) if business_key else None
    when = _time_field(occurred_at) if occurred_at else None
    if built_in is None:
        assert key is not None
        assert when is not None
        return RecordShape(message_type, None, key, when, key)
    return RecordShape(
        message_type, built_in.source_system, key or built_in.business_key,
        when or built_in.occurred_at, key or built_in.correlation_id, built_in.fill)
