"""The transaction envelope: a plain dataclass on the hot path, a pydantic model at edges.

`tests/unit/test_envelope_contract.py` proves both agree field by field with
schemas/avro/envelope, so they cannot drift apart.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from gateway.contracts._agency import AgencyCode
from gateway.contracts._codec import Codec
from gateway.errors import SchemaMismatchError

ENVELOPE_SCHEMA = "envelope"


def new_transaction_id() -> str:
    """A new globally unique transaction id (36 characters, within NDXP's 40)."""
    return str(uuid.uuid4())


@dataclass(slots=True)
class Envelope:
    """One transaction as it travels on Kafka; `payload` is single-object encoded Avro."""

    transaction_id: str
    correlation_id: str
    source_system: str
    connector: str
    source_agency_code: str
    target_service: str | None
    message_type: str
    schema_version: int
    business_key: str
    occurred_at: datetime
    ingested_at: datetime
    payload: bytes
    headers: dict[str, str] = field(default_factory=dict)

    def to_avro(self) -> dict[str, Any]:
        """The datum for the envelope schema."""
        return {name: getattr(self, name) for name in _FIELD_NAMES}

    @classmethod
    def from_avro(cls, datum: dict[str, Any]) -> Envelope:
        """Build from a decoded envelope datum."""
        return cls(**{name: datum[name] for name in _FIELD_NAMES})

    def encode(self, codec: Codec) -> bytes:
        """Single-object encode with the newest envelope schema."""
        return codec.encode(codec.registry.latest(ENVELOPE_SCHEMA), self.to_avro())

    @classmethod
    def decode(cls, codec: Codec, data: bytes) -> Envelope:
        """Decode bytes written with any known envelope version."""
        writer = codec.writer_of(data)
        if writer.name != ENVELOPE_SCHEMA:
            raise SchemaMismatchError(f"expected a transaction envelope, found {writer.name}")
        return cls.from_avro(codec.decode(data))

    def decode_payload(self, codec: Codec) -> dict[str, Any]:
        """The payload datum, read with the newest version of its schema."""
        writer = codec.writer_of(self.payload)
        if writer.name != self.message_type:
            raise SchemaMismatchError(
                f"payload is {writer.name} but the envelope says {self.message_type}"
            )
        return codec.decode(self.payload)


_FIELD_NAMES = tuple(f.name for f in fields(Envelope))


class EnvelopeModel(BaseModel):
    """The envelope at API edges (trace output, inspection); validates agency codes."""

    model_config = ConfigDict(extra="forbid")

    transaction_id: str = Field(max_length=40)
    correlation_id: str
    source_system: str
    connector: str
    source_agency_code: AgencyCode
    target_service: str | None = None
    message_type: str
    schema_version: int
    business_key: str
    occurred_at: datetime
    ingested_at: datetime
    payload: bytes
    headers: dict[str, str] = Field(default_factory=dict)
