"""Fixtures of the connector tests: one producer per session, a rig per test."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from gateway.contracts import Codec, SchemaRegistry
from gateway.kafka import KafkaAdmin, Producer
from gateway.settings import Settings
from gateway.testing.rig import Rig
from gateway.topics import Topics
from tests.conftest import BrokerHandle

# A fixture, found by name: importing it is what registers it here.
from tests.connect.fixtures import example_plugin_path  # noqa: F401


@pytest.fixture(scope="session")
def contracts() -> Codec:
    """The project's Avro contracts."""
    return Codec(SchemaRegistry.load(Settings().schemas_dir))


@pytest.fixture(scope="session")
async def connector_producer(kafka: BrokerHandle) -> AsyncIterator[Producer]:
    """The producer every connector of the session shares, as in the gateway."""
    producer = Producer(kafka.bootstrap)
    await producer.start()
    yield producer
    await producer.stop()


@pytest.fixture
def rig(kafka: BrokerHandle, connector_producer: Producer, kafka_admin: KafkaAdmin,
        contracts: Codec, topics: Topics) -> Rig:
    """Real context, store and producer, with topics unique to this test."""
    return Rig(kafka.bootstrap, connector_producer, kafka_admin, contracts, topics)
