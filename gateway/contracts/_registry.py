"""Every schema in schemas/avro, parsed once and indexed by name, version and fingerprint.

Layout: `schemas/avro/<name>/v<N>.avsc`. `<name>` is the envelope's `message_type` for
payloads (the envelope itself lives under `envelope/`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import fastavro
from fastavro.schema import fingerprint, to_parsing_canonical_form

from gateway.errors import ConfigError, UnknownSchemaError
from gateway.logs import mark_pii

_VERSION_FILE = re.compile(r"^v(\d+)\.avsc$")


@dataclass(frozen=True, slots=True)
class SchemaVersion:
    """One version of one schema, parsed."""

    name: str
    version: int
    path: Path
    raw: dict[str, Any]
    parsed: Any
    fingerprint: bytes

    @property
    def header(self) -> bytes:
        """The single-object encoding header: marker C3 01 plus the fingerprint."""
        return b"\xc3\x01" + self.fingerprint


def _fingerprint(parsed: Any) -> bytes:
    # fastavro's hex digest is already in the spec's little-endian byte order.
    return bytes.fromhex(fingerprint(to_parsing_canonical_form(parsed), "CRC-64-AVRO"))


class SchemaRegistry:
    """Schemas loaded from a directory; immutable once loaded."""

    def __init__(self, versions: list[SchemaVersion]) -> None:
        self._by_name: dict[str, dict[int, SchemaVersion]] = {}
        self._by_fingerprint: dict[bytes, SchemaVersion] = {}
        for sv in versions:
            self._by_name.setdefault(sv.name, {})[sv.version] = sv
            self._by_fingerprint[sv.fingerprint] = sv

    @classmethod
    def load(cls, directory: Path) -> SchemaRegistry:
        """Parse every `<name>/v<N>.avsc` below `directory`; ConfigError names a bad file."""
        if not directory.is_dir():
            raise ConfigError(f"schema directory {directory} does not exist")
        registry = cls([load_schema_file(p) for p in sorted(directory.glob("*/v*.avsc"))])
        # Personal data never reaches a log line: what the contracts mark pii, the log
        # redaction masks by field name.
        mark_pii(registry.field_names_marked("pii"))
        return registry

    def names(self) -> list[str]:
        """Schema names, sorted."""
        return sorted(self._by_name)

    def versions(self, name: str) -> list[SchemaVersion]:
        """Every version of a schema, oldest first."""
        return [v for _, v in sorted(self._by_name.get(name, {}).items())]

    def latest(self, name: str) -> SchemaVersion:
        """The newest version of a schema."""
        versions = self._by_name.get(name)
        if not versions:
            raise UnknownSchemaError(f"no schema named {name!r} in the registry")
        return versions[max(versions)]

    def get(self, name: str, version: int) -> SchemaVersion:
        """One version of a schema."""
        try:
            return self._by_name[name][version]
        except KeyError:
            raise UnknownSchemaError(f"no schema {name!r} version {version}") from None

    def by_fingerprint(self, fp: bytes) -> SchemaVersion:
        """The schema a single-object encoded datum was written with."""
        try:
            return self._by_fingerprint[fp]
        except KeyError:
            raise UnknownSchemaError(
                f"unknown writer schema fingerprint {fp.hex()}: not in the registry"
            ) from None

    def field_names_marked(self, attribute: str) -> set[str]:
        """Names of fields (at any depth) that carry a custom attribute, e.g. `pii`."""
        found: set[str] = set()

        def walk(node: Any) -> None:
            if isinstance(node, dict):
                for f in node.get("fields", ()):
                    if f.get(attribute):
                        found.add(f["name"])
                    walk(f["type"])
                for key in ("items", "values"):
                    if key in node:
                        walk(node[key])
            elif isinstance(node, list):
                for branch in node:
                    walk(branch)

        for versions in self._by_name.values():
            for sv in versions.values():
                walk(sv.raw)
        return found


def load_schema_file(path: Path) -> SchemaVersion:
    """Parse one `.avsc` file; ConfigError says which file and why."""
    match = _VERSION_FILE.match(path.name)
    if match is None:
        raise ConfigError(f"{path}: schema files must be named v<N>.avsc")
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        # A fresh name table per file: versions of one schema reuse their record names.
        parsed = fastavro.parse_schema(raw, named_schemas={})
    except (OSError, ValueError, fastavro.schema.SchemaParseException) as exc:
        raise ConfigError(f"{path}: not a valid Avro schema: {exc}") from exc
    return SchemaVersion(path.parent.name, int(match.group(1)), path, raw, parsed,
                         _fingerprint(parsed))
