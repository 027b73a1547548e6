"""An exported record's fields -> the Avro datum of its schema, or the field that is wrong.

The schema is compiled once into a tree of small converters, so a million records cost a
walk each, not a schema interpretation each. JSON Lines values are JSON (a union value
is plain, not Avro-JSON's `{"string": ...}` wrapping); CSV values are text, read as the
schema's type says. Either way the result is the same datum, so one record exported as
JSON Lines or as CSV gets the same transaction id.

Conversions beyond JSON: `timestamp-millis` / `timestamp-micros` from ISO 8601 with a zone
offset (or epoch numbers), `date` from `YYYY-MM-DD` (or days since 1970), and fields the
contract marks `agency_code` must be agency electronic identifiers. Unknown fields are
refused, not dropped: data is never lost silently. The codec's encoder, run afterwards,
stays the final word on whether a datum fits.
"""

from __future__ import annotations

__all__ = ["InvalidFieldError", "RecordConverter"]

import math
import re
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from typing import Any

import orjson
from fastavro.schema import expand_schema

from gateway.contracts import SchemaVersion, is_agency_code
from gateway.errors import ContractError

_INT_RANGE = (-(2**31), 2**31 - 1)
_LONG_RANGE = (-(2**63), 2**63 - 1)
_EPOCH_DAY = date(1970, 1, 1).toordinal()
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_INTEGER = re.compile(r"-?\d+")
_MISSING = object()

Convert = Callable[[Any, str], Any]
"""(value, field path) -> Avro value; raises InvalidFieldError."""


class InvalidFieldError(ContractError):
    """A record's field does not fit its schema: `field` is the path, e.g. applicant.phone."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}" if field else reason)
        self.field = field or "(record)"
        self.reason = reason


class RecordConverter:
    """Converts records of one schema version; JSON values and CSV text each have a tree."""

    def __init__(self, schema: SchemaVersion) -> None:
        self.schema = schema
        expanded = expand_schema(schema.raw)
        if not (isinstance(expanded, dict) and expanded.get("type") == "record"):
            raise ContractError(f"{schema.name} v{schema.version} is not a record schema")
        self._json = _Compiler(text=False).record(expanded)
        self._text = _Compiler(text=True).record(expanded)
        self._defaults = {f["name"]: f["default"] for f in expanded["fields"] if "default" in f}

    def datum(self, fields: Mapping[str, Any], *, text: bool) -> dict[str, Any]:
        """The Avro datum (defaults filled in); InvalidFieldError names the first bad field."""
        datum: dict[str, Any] = (self._text if text else self._json)(fields, "")
        return datum

    def canonical(self, datum: Mapping[str, Any]) -> bytes:
        """The datum without fields at their default, as sorted-key JSON.

        What identifies a record: a later schema version adding a field with a default
        leaves it unchanged, as does a CSV empty cell against a JSON absent key.
        """
        kept = {k: v for k, v in datum.items() if self._defaults.get(k, _MISSING) != v}
        return orjson.dumps(kept, option=orjson.OPT_SORT_KEYS)


class _Compiler:
    def __init__(self, *, text: bool) -> None:
        self.text = text

    def of(self, schema: Any, agency: bool = False) -> Convert:
        conv = self._of(schema)
        return _agency_checked(conv) if agency else conv

    def _of(self, schema: Any) -> Convert:  # noqa: PLR0911 - one return per Avro type
        if isinstance(schema, list):
            return self.union(schema)
        if isinstance(schema, str):
            schema = {"type": schema}
        kind = schema["type"]
        if isinstance(kind, (dict, list)):
            return self._of(kind)
        logical = schema.get("logicalType")
        if kind == "record":
            return self.record(schema)
        if kind == "enum":
            return self.enum(schema)
        if kind == "array":
            return self.container(self.array(schema))
        if kind == "map":
            return self.container(self.map(schema))
        if kind == "long" and logical in ("timestamp-millis", "timestamp-micros"):
            return self.timestamp(1000 if logical == "timestamp-millis" else 1_000_000)
        if kind == "int" and logical == "date":
            return self.date()
        if kind == "fixed":
            return self.fixed(int(schema["size"]))
        return self.primitive(kind)

    # -- structure ---------------------------------------------------------------------------

    def record(self, schema: dict[str, Any]) -> Convert:
        fields: list[tuple[str, Convert, Any]] = []
        for f in schema["fields"]:
            conv = self.of(f["type"], agency=bool(f.get("agency_code")))
            fields.append((f["name"], conv, f.get("default", _MISSING)))
        names = {name for name, _, _ in fields}
        type_name = schema.get("name", "record")

        def convert(value: Any, path: str) -> Any:
            if not isinstance(value, dict):
                raise InvalidFieldError(path, f"expected an object ({type_name}), got "
                                   f"{_kind(value)}")
            out: dict[str, Any] = {}
            for name, conv, default in fields:
                where = f"{path}.{name}" if path else name
                raw = value.get(name, _MISSING)
                if raw is _MISSING:
                    if default is _MISSING:
                        raise InvalidFieldError(where, "required field is missing")
                    out[name] = default
                else:
                    out[name] = conv(raw, where)
            if len(value) > len(out) or not names.issuperset(value):
                extra = sorted(k for k in value if k not in names)
                if extra:
                    where = f"{path}.{extra[0]}" if path else extra[0]
                    raise InvalidFieldError(where, f"unknown field (not in {type_name}); a new "
                                       "field needs a new schema version")
            return out
        return convert

    def union(self, branches: list[Any]) -> Convert:
        nullable = any(b == "null" or (isinstance(b, dict) and b.get("type") == "null")
                       for b in branches)
        others = [self._of(b) for b in branches
                  if not (b == "null" or (isinstance(b, dict) and b.get("type") == "null"))]
        text = self.text

        def convert(value: Any, path: str) -> Any:
            if value is None or (text and nullable and _blank(value)):
                if nullable:
                    return None
                raise InvalidFieldError(path, "must not be null")
            first: InvalidFieldError | None = None
            for conv in others:
                try:
                    return conv(value, path)
                except InvalidFieldError as exc:
                    first = first or exc
            if first is not None and len(others) == 1:
                raise first
            raise InvalidFieldError(path, f"{_kind(value)} fits none of the types allowed here")
        return convert

    def container(self, inner: Convert) -> Convert:
        if not self.text:
            return inner

        def from_cell(value: Any, path: str) -> Any:
            # A CSV cell of an array or map holds JSON; its items are JSON values.
            if isinstance(value, str):
                if value.strip() == "":
                    raise InvalidFieldError(path, "empty cell; an array or map is written as JSON, "
                                       "e.g. []")
                try:
                    value = orjson.loads(value)
                except orjson.JSONDecodeError as exc:
                    raise InvalidFieldError(path, f"the cell is not JSON: {exc}") from None
            return inner(value, path)
        return from_cell

    def array(self, schema: dict[str, Any]) -> Convert:
        items = _Compiler(text=False).of(schema["items"], agency=bool(schema.get("agency_code")))

        def convert(value: Any, path: str) -> Any:
            if not isinstance(value, list):
                raise InvalidFieldError(path, f"expected an array, got {_kind(value)}")
            return [items(v, f"{path}[{i}]") for i, v in enumerate(value)]
        return convert

    def map(self, schema: dict[str, Any]) -> Convert:
        values = _Compiler(text=False).of(schema["values"])

        def convert(value: Any, path: str) -> Any:
            if not isinstance(value, dict):
                raise InvalidFieldError(path, f"expected an object (map), got {_kind(value)}")
            return {k: values(v, f"{path}.{k}") for k, v in value.items()}
        return convert

    # -- scalars -----------------------------------------------------------------------------

    def enum(self, schema: dict[str, Any]) -> Convert:
        symbols = frozenset(schema["symbols"])
        listed = ", ".join(schema["symbols"])

        def convert(value: Any, path: str) -> Any:
            if isinstance(value, str) and value in symbols:
                return value
            raise InvalidFieldError(path, f"{_shown(value)} is not one of {listed}")
        return convert

    def primitive(self, kind: str) -> Convert:
        text = self.text
        if kind == "null":
            def null(value: Any, path: str) -> Any:
                if value is None or (text and _blank(value)):
                    return None
                raise InvalidFieldError(path, f"expected null, got {_kind(value)}")
            return null
        if kind == "boolean":
            def boolean(value: Any, path: str) -> Any:
                if isinstance(value, bool):
                    return value
                if text and isinstance(value, str):
                    word = value.strip().lower()
                    if word in ("true", "1"):
                        return True
                    if word in ("false", "0"):
                        return False
                raise InvalidFieldError(path, f"expected true or false, got {_shown(value)}")
            return boolean
        if kind in ("int", "long"):
            low, high = _INT_RANGE if kind == "int" else _LONG_RANGE

            def whole(value: Any, path: str) -> Any:
                number = _whole(value, text)
                if number is None:
                    raise InvalidFieldError(path, f"expected a whole number, got {_shown(value)}")
                if not low <= number <= high:
                    raise InvalidFieldError(path, f"{number} is out of range for {kind}")
                return number
            return whole
        if kind in ("float", "double"):
            def real(value: Any, path: str) -> Any:
                if isinstance(value, (int, float)) and not isinstance(value, bool):
                    number = float(value)
                elif text and isinstance(value, str):
                    try:
                        number = float(value.strip())
                    except ValueError:
                        number = math.nan
                else:
                    number = math.nan
                if not math.isfinite(number):
                    raise InvalidFieldError(path, f"expected a finite number, got {_shown(value)}")
                return number
            return real
        if kind == "string":
            def string(value: Any, path: str) -> Any:
                if isinstance(value, str):
                    return value
                raise InvalidFieldError(path, f"expected a string, got {_kind(value)}")
            return string
        if kind == "bytes":
            return self.fixed(None)
        raise ContractError(f"Avro type {kind!r} is not supported by the importer")

    def fixed(self, size: int | None) -> Convert:
        def raw(value: Any, path: str) -> Any:
            # Avro's JSON encoding: each character is one byte (code points 0-255).
            if isinstance(value, str):
                try:
                    data = value.encode("latin-1")
                except UnicodeEncodeError:
                    raise InvalidFieldError(path, "bytes are written as characters 0-255") from None
                if size is not None and len(data) != size:
                    raise InvalidFieldError(path, f"expected {size} bytes, got {len(data)}")
                return data
            raise InvalidFieldError(path, f"expected bytes as a string, got {_kind(value)}")
        return raw

    def timestamp(self, per_second: int) -> Convert:
        text = self.text

        def convert(value: Any, path: str) -> Any:
            if isinstance(value, str):
                stripped = value.strip()
                if text and _INTEGER.fullmatch(stripped):
                    return int(stripped)
                try:
                    moment = datetime.fromisoformat(stripped)
                except ValueError:
                    raise InvalidFieldError(path, f"{_shown(value)} is not an ISO 8601 time, e.g. "
                                       "2026-11-02T08:30:00+07:00") from None
                if moment.tzinfo is None:
                    raise InvalidFieldError(path, f"{_shown(value)} has no zone offset (e.g. "
                                       "+07:00 or Z)")
                delta = moment - _EPOCH
                micros = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
                return micros // (1_000_000 // per_second)
            number = _whole(value, False)
            if number is None:
                raise InvalidFieldError(path, f"expected a time, got {_kind(value)}")
            return number
        return convert

    def date(self) -> Convert:
        text = self.text

        def convert(value: Any, path: str) -> Any:
            if isinstance(value, str):
                stripped = value.strip()
                if text and _INTEGER.fullmatch(stripped):
                    return int(stripped)
                try:
                    return date.fromisoformat(stripped).toordinal() - _EPOCH_DAY
                except ValueError:
                    raise InvalidFieldError(path, f"{_shown(value)} is not a date (YYYY-MM-DD)"
                                       ) from None
            number = _whole(value, False)
            if number is None:
                raise InvalidFieldError(path, f"expected a date, got {_kind(value)}")
            return number
        return convert


def _agency_checked(conv: Convert) -> Convert:
    def convert(value: Any, path: str) -> Any:
        out = conv(value, path)
        for code in out if isinstance(out, list) else (out,):
            if isinstance(code, str) and not is_agency_code(code):
                raise InvalidFieldError(
                    path, f"{_shown(code)} is not an agency code (dot-separated groups of "
                    "digits and capital letters, e.g. 000.00.00.H41)")
        return out
    return convert


def _whole(value: Any, text: bool) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if text and isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            return None
    return None


def _blank(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip() == ""
    # A nested record from CSV columns: every cell empty means no record.
    return isinstance(value, dict) and all(_blank(v) for v in value.values())


def _kind(value: Any) -> str:  # noqa: PLR0911 - one return per JSON type
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _shown(value: Any) -> str:
    # Reasons go to the rejected file beside the input, never to logs; still kept short.
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
