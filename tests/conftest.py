"""Session-wide fixtures: one real Kafka broker, unique topic names for every test."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from devkit.localkafka import LocalBroker
from gateway.errors import GatewayError
from gateway.kafka import KafkaAdmin, TopicSpec
from gateway.testing.fixtures import unique_prefix
from gateway.topics import Topics
from tests.support.broker import session_broker


class BrokerHandle:
    """The session's broker: its address, and the local broker when we run it ourselves."""

    def __init__(self, bootstrap: str, local: LocalBroker | None) -> None:
        self.bootstrap = bootstrap
        self.local = local


@pytest.fixture(scope="session")
async def kafka(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[BrokerHandle]:
    """A real Kafka broker for the whole session; fails (never skips) if none can be had."""
    home: Path = tmp_path_factory.mktemp("kafka")
    try:
        async with session_broker(home) as (bootstrap, local):
            yield BrokerHandle(bootstrap, local)
    except (GatewayError, OSError) as exc:
        pytest.fail(f"no Kafka broker for the integration tests: {exc}", pytrace=False)


@pytest.fixture(scope="session")
def lgsp_bootstrap(kafka: BrokerHandle) -> str:
    """The contract kit's broker (gateway.testing) is the session's: one broker, not two."""
    return kafka.bootstrap


@pytest.fixture(scope="session")
async def kafka_admin(kafka: BrokerHandle) -> AsyncIterator[KafkaAdmin]:
    """An admin client on the session broker."""
    admin = KafkaAdmin(kafka.bootstrap)
    await admin.start()
    yield admin
    await admin.stop()


@pytest.fixture
def topics() -> Topics:
    """Topic names unique to this test, so tests never read each other's records."""
    return Topics(prefix=unique_prefix())


@pytest.fixture
def new_topic(kafka_admin: KafkaAdmin) -> Callable[..., Awaitable[str]]:
    """Create a uniquely named topic: `await new_topic(partitions=3)`."""

    async def create(partitions: int = 3, *, name: str | None = None) -> str:
        topic = name or f"t{uuid.uuid4().hex[:12]}"
        await kafka_admin.ensure_topics([TopicSpec(topic, partitions)])
        return topic

    return create
