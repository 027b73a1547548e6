"""Schema evolution gate: each version must read data written by every earlier one.

The rules are the Apache `avro` package's reader/writer compatibility checker, not ours.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import avro.schema
from avro.compatibility import ReaderWriterCompatibilityChecker, SchemaCompatibilityType

from gateway.contracts._registry import SchemaRegistry


@dataclass(frozen=True, slots=True)
class Breakage:
    """One breaking change: a reader version that cannot read a writer version."""

    schema: str
    reader_version: int
    writer_version: int
    location: str
    reason: str

    def __str__(self) -> str:
        return (
            f"{self.schema}: v{self.reader_version} cannot read v{self.writer_version} data: "
            f"{self.location}: {self.reason}"
        )


def check_compatibility(directory: Path) -> list[Breakage]:
    """Every breaking change between versions of each schema below `directory`.

    Raises ConfigError if a schema file does not parse at all.
    """
    registry = SchemaRegistry.load(directory)
    checker = ReaderWriterCompatibilityChecker()
    found: list[Breakage] = []
    for name in registry.names():
        versions = registry.versions(name)
        parsed = {v.version: avro.schema.parse(json.dumps(v.raw)) for v in versions}
        for i, reader in enumerate(versions):
            for writer in versions[:i]:
                result = checker.get_compatibility(parsed[reader.version], parsed[writer.version])
                if result.compatibility is SchemaCompatibilityType.compatible:
                    continue
                kinds = ", ".join(sorted(str(k.value) for k in result.incompatibilities))
                details = "; ".join(sorted(result.messages))
                found.append(
                    Breakage(name, reader.version, writer.version,
                             "field " + ",".join(sorted(_field_path(reader.raw, loc)
                                                 for loc in result.locations)),
                             f"{kinds} ({details})")
                )
    return found


def _field_path(raw: dict[str, object], location: str) -> str:
    """Turn the checker's JSON-pointer location (/fields/3/type) into a field path."""
    node: object = raw
    names: list[str] = []
    parts = [p for p in location.split("/") if p]
    for i, part in enumerate(parts):
        if isinstance(node, dict):
            node = node.get(part)
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
            if i > 0 and parts[i - 1] == "fields" and isinstance(node, dict):
                names.append(str(node.get("name")))
        else:
            break
    return ".".join(names) or location
