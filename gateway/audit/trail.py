"""Writing the audit trail (gateway and CLI) and reading it back (`lgsp audit`)."""

from __future__ import annotations

__all__ = ["AuditTrail", "read_trail", "record_from_cli"]

import asyncio
import os
import secrets
import socket

from gateway.audit.chain import GENESIS, ChainHead, digest, seal
from gateway.audit.event import AuditEvent
from gateway.audit.keys import SigningKey, audit_key_file
from gateway.contracts import Codec, SchemaRegistry
from gateway.errors import AuditError, GatewayError
from gateway.kafka import KafkaAdmin, Producer, TopicReader, read_topic
from gateway.logs import get_logger
from gateway.metrics import AUDIT_FAILURES, AUDIT_RECORDS
from gateway.settings import Settings
from gateway.topics import Topics

_log = get_logger(__name__)


class AuditTrail:
    """Appends signed records to the audit topic, one chain per process, one at a time.

    After a failed write it cannot know whether Kafka kept the record, so the next write
    starts a new chain (anchored on the topic's last record) rather than guess.
    """

    def __init__(self, settings: Settings, producer: Producer, codec: Codec) -> None:
        self._bootstrap = settings.bootstrap_servers
        self._topic = Topics(settings.topic_prefix).audit
        self._key_file = audit_key_file(settings)
        self._producer = producer
        self._codec = codec
        self._key: SigningKey | None = None
        self._head: ChainHead | None = None
        self._lock = asyncio.Lock()

    async def start(self) -> None:
        """Load (or create) the signing key and find where the topic ends."""
        self._key = await asyncio.to_thread(SigningKey.load_or_create, self._key_file)
        self._head = await self._new_head()

    async def record(self, event: AuditEvent) -> None:
        """Append one record, acknowledged by Kafka; AuditError (one line) if it failed."""
        if self._key is None:
            raise AuditError("the audit trail has not been started")
        async with self._lock:
            try:
                if self._head is None:
                    self._head = await self._new_head()
                value = seal(self._codec, self._key, self._head, event)
                await self._producer.send_and_wait(self._topic, value,
                                                   key=self._head.writer.encode())
            except GatewayError as exc:
                self._head = None
                AUDIT_FAILURES.inc()
                raise AuditError(f"cannot write the audit trail ({self._topic}): "
                                 f"{exc}") from exc
            self._head.seq += 1
            self._head.prev = digest(value)
        AUDIT_RECORDS.labels(action=event.action).inc()
        _log.info("audited", action=event.action, target=event.target,
                  subject=event.subject, result=event.result.value)

    async def _new_head(self) -> ChainHead:
        # Only the last record matters: the new chain starts after it.
        reader = TopicReader(self._bootstrap, client_id="lgsp-audit")
        await reader.start()
        try:
            ends = await reader.end_offsets([self._topic])
            start = {tp: max(end - 1, 0) for tp, end in ends.items()}
            records = [r async for r in reader.read([self._topic], start=start)]
        finally:
            await reader.stop()
        last = next((r.value for r in reversed(records) if r.value is not None), None)
        writer = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
        return ChainHead(writer, 0, digest(last) if last is not None else GENESIS)


async def record_from_cli(settings: Settings, event: AuditEvent) -> None:
    """Write one record from a CLI process (its own producer); AuditError if impossible."""
    registry = await asyncio.to_thread(SchemaRegistry.load, settings.schemas_dir)
    producer = Producer(settings.bootstrap_servers, client_id="lgsp-cli-audit")
    try:
        await producer.start()
    except GatewayError as exc:
        raise AuditError(f"cannot reach Kafka at {settings.bootstrap_servers} to write the "
                         f"audit trail: {exc}") from exc
    admin = KafkaAdmin(settings.bootstrap_servers, client_id="lgsp-cli-audit")
    try:
        trail = AuditTrail(settings, producer, Codec(registry))
        try:
            await admin.start()
            try:
                topics = Topics(settings.topic_prefix)
                await admin.ensure_topics([s for s in topics.system_specs()
                                           if s.name == topics.audit])
            finally:
                await admin.stop()
            await trail.start()
        except GatewayError as exc:
            if isinstance(exc, AuditError):
                raise
            raise AuditError(f"cannot read the audit trail at {settings.bootstrap_servers}: "
                             f"{exc}") from exc
        await trail.record(event)
    finally:
        await producer.stop()


async def read_trail(bootstrap_servers: str, topic: str) -> list[tuple[int, bytes]]:
    """Every (offset, value) of the audit topic now, in offset order."""
    records = await read_topic(bootstrap_servers, topic)
    return sorted((r.offset, r.value) for r in records if r.value is not None)
