"""The Avro contracts: schemas (built-in and from plugins), the single-object codec, the envelope.

A transaction travels as an `Envelope` encoded with Avro single-object encoding (marker,
CRC-64-AVRO fingerprint, datum). Its payload is itself single-object encoded, so any
reader finds both writer schemas by fingerprint and reads them with its own versions.
"""

from gateway.contracts._agency import AGENCY_CODE_PATTERN, AgencyCode, is_agency_code
from gateway.contracts._codec import Codec
from gateway.contracts._compatibility import Breakage, check_compatibility
from gateway.contracts._envelope import ENVELOPE_SCHEMA, Envelope, EnvelopeModel, new_transaction_id
from gateway.contracts._registry import SchemaRegistry, SchemaVersion
from gateway.contracts._sources import (
    SCHEMAS_ENTRY_POINT_GROUP,
    SchemaSource,
    load_gated_schemas,
    load_schemas,
    load_sources,
    plugin_schema_sources,
    schema_sources,
)

__all__ = [
    "AGENCY_CODE_PATTERN",
    "ENVELOPE_SCHEMA",
    "SCHEMAS_ENTRY_POINT_GROUP",
    "AgencyCode",
    "Breakage",
    "Codec",
    "Envelope",
    "EnvelopeModel",
    "SchemaRegistry",
    "SchemaSource",
    "SchemaVersion",
    "check_compatibility",
    "is_agency_code",
    "load_gated_schemas",
    "load_schemas",
    "load_sources",
    "new_transaction_id",
    "plugin_schema_sources",
    "schema_sources",
]
