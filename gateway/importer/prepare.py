"""One read record -> the bytes to publish, or the reason it is rejected. Pure CPU work.

The envelope is the one a connector builds (gateway/connect/context.py): same fields,
the payload single-object encoded with the newest version of its schema, the business
key as the Kafka key and the transaction id in the `lgsp.transaction_id` header.
"""

from __future__ import annotations

__all__ = ["Prepared", "RecordPreparer"]

from dataclasses import dataclass
from datetime import datetime

from gateway.contracts import Codec, Envelope
from gateway.errors import ContractError
from gateway.importer.checkpoint import RunIdentity
from gateway.importer.convert import InvalidFieldError, RecordConverter
from gateway.importer.ids import record_transaction_id
from gateway.importer.readers import RawRecord, UnreadableRecord, raw_text
from gateway.importer.rejects import Rejection
from gateway.importer.shapes import RecordShape


@dataclass(frozen=True, slots=True)
class Prepared:
    """A record ready to publish."""

    ordinal: int
    line: int
    transaction_id: str
    key: bytes
    value: bytes


class RecordPreparer:
    """Validates records of one message type and builds their envelopes."""

    def __init__(self, codec: Codec, shape: RecordShape, run: RunIdentity, *, file_name: str,
                 max_record_bytes: int) -> None:
        self._codec = codec
        self._schema = codec.registry.latest(shape.message_type)
        self._converter = RecordConverter(self._schema)
        self._shape = shape
        self._run = run
        self._file_name = file_name
        self._limit = max_record_bytes

    def prepare(self, record: RawRecord | UnreadableRecord, now: datetime) -> Prepared | Rejection:
        """The publishable record, or its rejection (line, field, reason)."""
        if isinstance(record, UnreadableRecord):
            return Rejection(record.line, record.ordinal, "(record)", record.reason, record.raw)
        try:
            return self._prepare(record, now)
        except InvalidFieldError as exc:
            return Rejection(record.line, record.ordinal, exc.field, exc.reason,
                             raw_text(record))
        except ContractError as exc:
            return Rejection(record.line, record.ordinal, "(record)", str(exc),
                             raw_text(record))

    def _prepare(self, record: RawRecord, now: datetime) -> Prepared:
        fields = record.fields
        if self._shape.fill is not None:
            self._shape.fill(fields, self._file_name)
        datum = self._converter.datum(fields, text=record.text)
        payload = self._codec.encode(self._schema, datum)
        tx_id = record_transaction_id(self._shape.message_type, self._converter.canonical(datum))
        business_key = self._shape.business_key(datum)
        env = Envelope(
            transaction_id=tx_id,
            correlation_id=self._shape.correlation_id(datum) or tx_id,
            source_system=self._run.source_system,
            connector=self._run.connector,
            source_agency_code=self._run.agency,
            target_service=self._run.service,
            message_type=self._shape.message_type,
            schema_version=self._schema.version,
            business_key=business_key,
            occurred_at=self._shape.occurred_at(datum),
            ingested_at=now,
            payload=payload,
        )
        value = env.encode(self._codec)
        key = business_key.encode()
        # Header and key overhead is small: a margin instead of an exact size per record.
        if len(value) + len(key) + 128 > self._limit:
            raise InvalidFieldError("(record)", f"{len(value)} bytes encoded, more than Kafka's "
                               f"maximum of {self._limit} bytes")
        return Prepared(record.ordinal, record.line, tx_id, key, value)
