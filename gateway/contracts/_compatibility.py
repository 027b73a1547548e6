"""Schema evolution gate: versions of a schema must read each other's data.

Checked in both directions for every pair of versions (Avro's FULL_TRANSITIVE): a new
reader must read data written by every earlier version (the router reads old backlog),
and an earlier reader must read data written by the new version (a router not yet
upgraded reads what an upgraded connector writes). The rules are the Apache `avro`
package's reader/writer compatibility checker, not ours; we only split its verdict per
top-level field so each breaking change is reported on its own line.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import avro.schema
from avro.compatibility import ReaderWriterCompatibilityChecker, SchemaCompatibilityType
from fastavro.schema import expand_schema

from gateway.contracts._registry import SchemaRegistry, SchemaVersion

_PLAIN_REASONS = {
    "reader_field_missing_default_value": "field has no default, so data without it cannot be read",
    "missing_enum_symbols": "enum symbols missing in the reader",
    "missing_union_branch": "a union branch of the writer is missing in the reader",
    "name_mismatch": "named type renamed",
    "fixed_size_mismatch": "fixed size changed",
}


@dataclass(frozen=True, slots=True)
class Breakage:
    """One breaking change: a reader version that cannot read a writer version's data."""

    schema: str
    reader_version: int
    writer_version: int
    field: str
    reason: str

    def __str__(self) -> str:
        return (
            f"{self.schema}: v{self.reader_version} cannot read v{self.writer_version} data: "
            f"field {self.field}: {self.reason}"
        )


def check_compatibility(schemas: Path | SchemaRegistry) -> list[Breakage]:
    """Every breaking change between versions of each schema (of a folder or a registry).

    Raises ConfigError if a schema file does not parse at all.
    """
    registry = schemas if isinstance(schemas, SchemaRegistry) else SchemaRegistry.load(schemas)
    checker = ReaderWriterCompatibilityChecker()
    found: list[Breakage] = []
    for name in registry.names():
        versions = registry.versions(name)
        for i, newer in enumerate(versions):
            for older in versions[:i]:
                found.extend(_breakages(checker, name, reader=newer, writer=older))
                found.extend(_breakages(checker, name, reader=older, writer=newer))
    return found


def _parse(raw: Any) -> avro.schema.Schema:
    return avro.schema.parse(json.dumps(raw))


def _breakages(
    checker: ReaderWriterCompatibilityChecker, name: str, *, reader: SchemaVersion,
    writer: SchemaVersion,
) -> list[Breakage]:
    writer_schema = _parse(writer.raw)
    result = checker.get_compatibility(_parse(reader.raw), writer_schema)
    if result.compatibility is SchemaCompatibilityType.compatible:
        return []
    expanded = expand_schema(reader.raw)
    found: list[Breakage] = []
    if isinstance(expanded, dict) and expanded.get("type") == "record":
        # One reader field at a time (named types expanded inline so each stands alone).
        for field in expanded["fields"]:
            single = {**expanded, "fields": [field]}
            verdict = checker.get_compatibility(_parse(single), writer_schema)
            if verdict.compatibility is not SchemaCompatibilityType.compatible:
                found.append(Breakage(name, reader.version, writer.version, field["name"],
                                      _reason(verdict)))
    if not found:
        found.append(Breakage(name, reader.version, writer.version, "(record)", _reason(result)))
    return found


def _reason(result: Any) -> str:
    parts: list[str] = []
    for kind in sorted(str(k.value) for k in result.incompatibilities):
        parts.append(_PLAIN_REASONS.get(kind, kind.replace("_", " ")))
    details = [m for m in sorted(result.messages) if " " in m]  # skip bare field names
    return "; ".join(parts + details)
