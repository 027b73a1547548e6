"""Avro single-object encoding (spec: marker C3 01, 8-byte CRC-64-AVRO fingerprint, datum)."""

from __future__ import annotations

from io import BytesIO
from typing import Any

import fastavro
from fastavro.validation import ValidationError, validate

from gateway.contracts._registry import SchemaRegistry, SchemaVersion
from gateway.errors import MalformedRecordError, SchemaMismatchError

_MARKER = b"\xc3\x01"
_HEADER_LEN = 10


class Codec:
    """Encodes and decodes single-object Avro with schemas from one registry.

    Decoding resolves the writer schema by fingerprint and reads with the reader's version
    (default: the newest), so old and new writers interoperate.
    """

    def __init__(self, registry: SchemaRegistry) -> None:
        self.registry = registry

    def encode(self, schema: SchemaVersion, datum: dict[str, Any]) -> bytes:
        """Single-object encode `datum` with `schema`; SchemaMismatchError if it does not fit."""
        out = BytesIO()
        out.write(schema.header)
        try:
            fastavro.schemaless_writer(out, schema.parsed, datum)
        except (ValueError, TypeError, KeyError, AttributeError, OverflowError) as exc:
            reason = _explain(schema, datum, exc)
            raise SchemaMismatchError(
                f"record does not fit {schema.name} v{schema.version}: {reason}"
            ) from exc
        return out.getvalue()

    def writer_of(self, data: bytes) -> SchemaVersion:
        """The schema `data` was written with, from its fingerprint."""
        if len(data) < _HEADER_LEN or data[:2] != _MARKER:
            raise MalformedRecordError(
                "not Avro single-object encoding: "
                + ("too short" if len(data) < _HEADER_LEN else f"bad marker {data[:2].hex()}")
            )
        return self.registry.by_fingerprint(bytes(data[2:_HEADER_LEN]))

    def decode(self, data: bytes, reader: SchemaVersion | None = None) -> dict[str, Any]:
        """Decode single-object Avro; read with `reader` (default: the writer's newest version)."""
        writer = self.writer_of(data)
        if reader is None:
            reader = self.registry.latest(writer.name)
        try:
            datum = fastavro.schemaless_reader(
                BytesIO(data[_HEADER_LEN:]),
                writer.parsed,
                None if reader is writer else reader.parsed,
            )
        except (EOFError, ValueError, TypeError, IndexError, KeyError, UnicodeDecodeError,
                StopIteration, OverflowError, fastavro.read.SchemaResolutionError) as exc:
            raise SchemaMismatchError(
                f"bytes do not decode as {writer.name} v{writer.version}"
                f" read as v{reader.version}: {type(exc).__name__}: {exc}"
            ) from exc
        if not isinstance(datum, dict):
            raise SchemaMismatchError(f"{writer.name} v{writer.version} did not decode to a record")
        return datum


def _explain(schema: SchemaVersion, datum: Any, exc: Exception) -> str:
    # fastavro's writer errors rarely name the field; its validator does, so ask it.
    try:
        validate(datum, schema.parsed, raise_errors=True)
    except ValidationError as verr:
        return "; ".join(str(e) for e in verr.errors)[:500]
    except (TypeError, ValueError, KeyError, AttributeError) as other:
        return f"{type(other).__name__}: {other}"
    return f"{type(exc).__name__}: {exc}"
