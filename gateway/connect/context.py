"""The runtime's side of the plugin contract: envelopes out to Kafka, positions stored."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from gateway.connect.plugin import ConnectorConfig, SourceRecord
from gateway.connect.store import CompactedStore
from gateway.contracts import Codec, Envelope
from gateway.errors import RecordTooLargeError
from gateway.headers import H_TRANSACTION
from gateway.kafka import Producer
from gateway.metrics import INGESTED

# Transaction ids are UUIDv5 of (connector, source id): a record re-read after a crash
# gets the same id, which is what makes the national side see it once.
_TRANSACTION_NAMESPACE = uuid.UUID("6f1c1f0e-3b8e-5d43-9a0e-4c47535020a1")
_NAMESPACE_BYTES = _TRANSACTION_NAMESPACE.bytes


def transaction_id_for(connector: str, source_id: str) -> str:
    """The stable transaction id of one source change seen by one connector.

    Exactly `str(uuid.uuid5(namespace, connector + NUL + source_id))` (the unit tests pin
    it), computed without building a UUID object: 1.6 instead of 4 µs per event.
    """
    # RFC 4122 version 5 is defined on SHA-1; it names, it does not protect.
    digest = bytearray(hashlib.sha1(
        _NAMESPACE_BYTES + f"{connector}\x00{source_id}".encode(), usedforsecurity=False
    ).digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x50  # version 5
    digest[8] = (digest[8] & 0x3F) | 0x80  # RFC 4122 variant
    h = digest.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


class RuntimeContext:
    """A running connector's `SourceContext`."""

    def __init__(
        self,
        *,
        name: str,
        source_system: str,
        config: ConnectorConfig,
        topic: str,
        producer: Producer,
        codec: Codec,
        positions: CompactedStore,
        position: Mapping[str, Any] | None,
    ) -> None:
        self._name = name
        self._source_system = source_system
        self._config = config
        self._topic = topic
        self._producer = producer
        self._codec = codec
        self._positions = positions
        self._position = dict(position) if position is not None else None
        self._ingested = INGESTED.labels(connector=name)

    @property
    def name(self) -> str:
        """The connector's registered name."""
        return self._name

    @property
    def topic(self) -> str:
        """The Kafka topic this connector publishes to."""
        return self._topic

    @property
    def position(self) -> Mapping[str, Any] | None:
        """The last committed source position, or None on first start."""
        return self._position

    def envelope(self, record: SourceRecord, now: datetime | None = None) -> Envelope:
        """The envelope for one source record (payload encoded with its newest schema)."""
        schema = self._codec.registry.latest(record.message_type)
        payload = self._codec.encode(schema, dict(record.payload))
        tx_id = transaction_id_for(self._name, record.source_id)
        return Envelope(
            transaction_id=tx_id,
            correlation_id=record.correlation_id or tx_id,
            source_system=self._source_system,
            connector=self._name,
            source_agency_code=self._config.source_agency_code,
            target_service=self._config.target_service,
            message_type=record.message_type,
            schema_version=schema.version,
            business_key=record.business_key,
            occurred_at=record.occurred_at,
            ingested_at=now or datetime.now(UTC),
            payload=payload,
            headers=dict(record.headers),
        )

    async def emit(self, records: Sequence[SourceRecord]) -> list[str]:
        """Publish records; returns their transaction ids once Kafka acknowledged all."""
        now = datetime.now(UTC)
        # Encode everything first: a payload that does not fit publishes nothing.
        envelopes = [self.envelope(r, now) for r in records]
        wire = [self._wire(env) for env in envelopes]
        acks = [
            await self._producer.send(self._topic, value, key=key, headers=headers)
            for value, key, headers in wire
        ]
        # One event per webhook request is the common case: await its acknowledgement
        # directly; a gather costs several times more.
        await (acks[0] if len(acks) == 1 else asyncio.gather(*acks))
        self._ingested.inc(len(envelopes))
        return [e.transaction_id for e in envelopes]

    def _wire(self, env: Envelope) -> tuple[bytes, bytes, list[tuple[str, bytes]]]:
        """Value, key and headers of one envelope; RecordTooLargeError before anything is sent."""
        value = env.encode(self._codec)
        key = env.business_key.encode()
        headers = [(H_TRANSACTION, env.transaction_id.encode())]
        limit = self._producer.max_record_bytes
        # Checked here, for every record of the call, so an oversized one publishes
        # nothing rather than failing after its siblings went out.
        if len(value) > limit // 2 and (size := self._producer.record_size(
                value, key, headers)) > limit:
            raise RecordTooLargeError(
                f"record of {env.business_key[:100]!r} is {size} bytes encoded, more than "
                f"Kafka's maximum of {limit} bytes")
        return value, key, headers

    async def commit_position(self, position: Mapping[str, Any]) -> None:
        """Durably store the source position (acknowledged by Kafka before returning)."""
        await self._positions.put(self._name, position)
        self._position = dict(position)
