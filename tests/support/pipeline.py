"""Building blocks for router tests: envelopes on a source topic, a stub, stats."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import aiohttp

from gateway.contracts import Codec, Envelope, new_transaction_id
from gateway.headers import H_TRANSACTION
from gateway.kafka import Producer
from tests.support.contracts import dossier_event, official_document


def dossier_envelope(codec: Codec, n: int, *, key: str | None = None,
                     message_type: str = "onestop.dossier_event") -> Envelope:
    """A dossier-event transaction as the one-stop connector would publish it."""
    schema = codec.registry.latest("onestop.dossier_event")
    now = datetime.now(UTC)
    business_key = key or f"H12-{n:06d}"
    return Envelope(
        transaction_id=new_transaction_id(), correlation_id=business_key,
        source_system="one-stop", connector="one-stop", source_agency_code="000.00.00.H12",
        target_service=None, message_type=message_type, schema_version=schema.version,
        business_key=business_key, occurred_at=now, ingested_at=now,
        payload=codec.encode(schema, dossier_event(n)), headers={},
    )


def document_envelope(codec: Codec, n: int) -> Envelope:
    """An iOffice document transaction."""
    schema = codec.registry.latest("ioffice.document")
    now = datetime.now(UTC)
    return Envelope(
        transaction_id=new_transaction_id(), correlation_id=f"doc-{n}", source_system="ioffice",
        connector="ioffice", source_agency_code="000.00.00.H12", target_service=None,
        message_type="ioffice.document", schema_version=schema.version,
        business_key=f"doc-{n}", occurred_at=now, ingested_at=now,
        payload=codec.encode(schema, official_document(n)), headers={},
    )


async def publish(producer: Producer, codec: Codec, topic: str, envelopes: list[Envelope]
                  ) -> None:
    """Publish envelopes keyed by business key and wait for every acknowledgement."""
    acks = [
        await producer.send(topic, env.encode(codec), key=env.business_key.encode(),
                            headers=[(H_TRANSACTION, env.transaction_id.encode())])
        for env in envelopes
    ]
    await asyncio.gather(*acks)


async def stub_stats(url: str) -> dict[str, Any]:
    """The stub's GET /ndxp/v1/stats."""
    async with aiohttp.ClientSession() as session, session.get(f"{url}/ndxp/v1/stats") as resp:
        resp.raise_for_status()
        stats: dict[str, Any] = await resp.json()
        return stats


async def set_faults(url: str, **faults: Any) -> None:
    """PUT /ndxp/v1/faults on the stub."""
    async with aiohttp.ClientSession() as session, session.put(
        f"{url}/ndxp/v1/faults", json=faults
    ) as resp:
        resp.raise_for_status()
