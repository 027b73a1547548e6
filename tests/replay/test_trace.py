"""Trace of a transaction the router has not handled yet: found in its connector topic."""

from __future__ import annotations

import pytest

from gateway.contracts import Codec
from gateway.kafka import KafkaAdmin, Producer, TopicSpec
from gateway.replay import UnknownTransactionError
from gateway.topics import Topics
from gateway.trace import Tracer, TraceStatus, trace_lines
from tests.conftest import BrokerHandle
from tests.support.pipeline import dossier_envelope, publish

pytestmark = pytest.mark.integration


async def test_an_ingested_transaction_without_outcome_is_in_flight(
    kafka: BrokerHandle, kafka_admin: KafkaAdmin, topics: Topics, codec: Codec,
) -> None:
    source = topics.source("one-stop")
    await kafka_admin.ensure_topics([TopicSpec(source), TopicSpec(topics.source("ioffice"))])
    envelope = dossier_envelope(codec, 1)
    producer = Producer(kafka.bootstrap)
    await producer.start()
    try:
        await publish(producer, codec, source, [envelope])
    finally:
        await producer.stop()
    tracer = Tracer(kafka.bootstrap, topics, codec)
    trace = await tracer.trace(envelope.transaction_id)
    assert trace.status is TraceStatus.IN_FLIGHT
    assert trace.ingested is not None
    assert (trace.ingested.topic, trace.ingested.found_by, trace.connector) == (
        source, "scan", "one-stop")
    assert [e.kind.value for e in trace.events] == ["ingested"]
    assert trace_lines(trace)[0] == (f"transaction {envelope.transaction_id}: IN_FLIGHT "
                                     "(ingested; the router has not finished with it yet)")
    with pytest.raises(UnknownTransactionError, match="is unknown"):
        await tracer.trace("00000000-0000-4000-8000-000000000000")
