"""From a record of the source's JSON to a message type's payload, checked against its schema.

A mapping names, for each top-level field of the message type, where its value comes
from: a dotted path into the record (`"holder.name"`, `"items.0.code"`), or a constant
(`{"const": "OUTGOING"}`). Checked once, at config time, against the latest version of
the message type's schema: every mapped field must exist, every field without a default
must be mapped. Values are converted where JSON cannot say what Avro means: strings for
timestamps and dates, numbers for strings; anything nested passes through as the source
gives it (the contract check at `emit` is the final judge).
"""

from __future__ import annotations

__all__ = ["FieldMapping", "MappingError", "compile_mapping", "lookup"]

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

_MISSING = object()


class MappingError(ValueError):
    """A mapping does not fit the schema, or a record does not fit the mapping."""


@dataclass(frozen=True, slots=True)
class _Field:
    name: str
    kind: str  # "string", "long", "double", "boolean", "timestamp", "date", "any"
    optional: bool
    path: tuple[str, ...] | None
    const: Any


@dataclass(frozen=True, slots=True)
class FieldMapping:
    """A checked mapping: applies to one source record at a time."""

    message_type: str
    fields: tuple[_Field, ...]

    def apply(self, record: Mapping[str, Any]) -> dict[str, Any]:
        """The payload for one record; MappingError names the field and path that failed."""
        payload: dict[str, Any] = {}
        for f in self.fields:
            value = f.const if f.path is None else lookup(record, f.path)
            if value is _MISSING or value is None:
                if f.optional:
                    continue  # the schema's default applies
                where = ".".join(f.path or ())
                raise MappingError(f"field {f.name}: the record has no value at {where!r}")
            payload[f.name] = _convert(f, value)
        return payload


def lookup(record: Any, path: tuple[str, ...]) -> Any:
    """The value at a dotted path (list items by index), or a private MISSING marker."""
    node = record
    for part in path:
        if isinstance(node, Mapping) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return _MISSING
    return node


def compile_mapping(message_type: str, schema: Mapping[str, Any],
                    mapping: Mapping[str, Any]) -> FieldMapping:
    """Check a mapping against a record schema; MappingError says which field and why."""
    declared = {f["name"]: f for f in schema.get("fields", ())}
    unknown = sorted(set(mapping) - set(declared))
    if unknown:
        raise MappingError(
            f"{', '.join(map(repr, unknown))} not a field of {message_type} "
            f"(its fields: {', '.join(declared)})")
    compiled: list[_Field] = []
    for name, spec in declared.items():
        optional = "default" in spec or _nullable(spec["type"])
        source = mapping.get(name)
        if source is None:
            if not optional:
                raise MappingError(f"field {name} of {message_type} has no default: map it")
            continue
        path, const = _source(name, source)
        compiled.append(_Field(name, _kind(spec["type"]), optional, path, const))
    return FieldMapping(message_type, tuple(compiled))


def _source(name: str, source: Any) -> tuple[tuple[str, ...] | None, Any]:
    if isinstance(source, str) and source.strip(". "):
        return tuple(source.split(".")), None
    if isinstance(source, Mapping) and set(source) == {"const"}:
        return None, source["const"]
    raise MappingError(f"field {name}: give a dotted path (\"a.b\") or {{\"const\": value}}")


def _nullable(avro_type: Any) -> bool:
    return isinstance(avro_type, list) and "null" in avro_type


def _kind(avro_type: Any) -> str:
    if isinstance(avro_type, list):
        branches = [t for t in avro_type if t != "null"]
        return _kind(branches[0]) if len(branches) == 1 else "any"
    if isinstance(avro_type, Mapping):
        logical = avro_type.get("logicalType")
        if logical in ("timestamp-millis", "timestamp-micros"):
            return "timestamp"
        if logical == "date":
            return "date"
        if logical == "decimal":
            return "decimal"
        return _kind(avro_type.get("type")) if avro_type.get("type") in (
            "string", "long", "int", "double", "float", "boolean") else "any"
    return {"string": "string", "long": "long", "int": "long", "double": "double",
            "float": "double", "boolean": "boolean"}.get(str(avro_type), "any")


def _timestamp(value: str) -> datetime:
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        raise ValueError("a timestamp needs its UTC offset")
    return parsed


# kind -> (JSON types converted, how); any other value passes as the source gives it.
_CONVERSIONS: dict[str, tuple[tuple[type, ...], Callable[[Any], Any]]] = {
    "string": ((int, float), str),
    "long": ((str,), int),
    "double": ((str, int), float),
    "decimal": ((str, int, float), lambda v: Decimal(str(v))),
    "timestamp": ((str,), _timestamp),
    "date": ((str,), lambda v: date.fromisoformat(v[:10])),
}


def _convert(f: _Field, value: Any) -> Any:
    conversion = _CONVERSIONS.get(f.kind)
    if conversion is None or isinstance(value, bool) or not isinstance(value, conversion[0]):
        return value
    try:
        return conversion[1](value)
    except (ValueError, ArithmeticError) as exc:
        raise MappingError(f"field {f.name}: {str(value)[:80]!r} is not a {f.kind}: "
                           f"{exc}") from exc
