"""The Avro contracts: schemas from schemas/avro, the single-object codec, the envelope.

A transaction travels as an `Envelope` encoded with Avro single-object encoding (marker,
CRC-64-AVRO fingerprint, datum). Its payload is itself single-object encoded, so any
reader finds both writer schemas by fingerprint and reads them with its own versions.
"""

from gateway.contracts._agency import AGENCY_CODE_PATTERN, AgencyCode, is_agency_code
from gateway.contracts._codec import Codec
from gateway.contracts._compatibility import Breakage, check_compatibility
from gateway.contracts._envelope import ENVELOPE_SCHEMA, Envelope, EnvelopeModel, new_transaction_id
from gateway.contracts._registry import SchemaRegistry, SchemaVersion

__all__ = [
    "AGENCY_CODE_PATTERN",
    "ENVELOPE_SCHEMA",
    "AgencyCode",
    "Breakage",
    "Codec",
    "Envelope",
    "EnvelopeModel",
    "SchemaRegistry",
    "SchemaVersion",
    "check_compatibility",
    "is_agency_code",
    "new_transaction_id",
]
