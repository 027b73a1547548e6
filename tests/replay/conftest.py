"""Fixtures of the replay and trace tests: a rig per test on the session broker."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from devkit.localkafka import free_port
from devkit.stub import StubConfig, StubServer
from gateway.app import Gateway
from gateway.contracts import Codec, SchemaRegistry
from gateway.kafka import KafkaAdmin, Producer, TopicSpec
from gateway.settings import NdxpSettings, RouterSettings, Settings
from gateway.topics import Topics
from tests.conftest import BrokerHandle
from tests.replay.rig import Rig


@pytest.fixture(scope="session")
def codec() -> Codec:
    """The project's Avro contracts."""
    return Codec(SchemaRegistry.load(Settings().schemas_dir))


@pytest.fixture
async def rig(kafka: BrokerHandle, kafka_admin: KafkaAdmin, topics: Topics, codec: Codec,
              tmp_path: Path) -> AsyncIterator[Rig]:
    """A stub and a whole gateway (router, replay API) on this test's own topics."""
    async with make_rig(kafka, kafka_admin, topics, codec, tmp_path) as made:
        yield made


@contextlib.asynccontextmanager
async def make_rig(kafka: BrokerHandle, kafka_admin: KafkaAdmin, topics: Topics, codec: Codec,
                   tmp_path: Path, **settings_overrides: Any) -> AsyncIterator[Rig]:
    """The rig, with settings changed by `settings_overrides` (Settings keyword arguments)."""
    # Created first, so the router's pattern subscription has it from the start.
    await kafka_admin.ensure_topics([TopicSpec(topics.source("one-stop"))])
    async with StubServer(StubConfig(data_dir=tmp_path / "stub", port=free_port(),
                                     fsync=False)) as stub:
        settings = Settings(**{
            "bootstrap_servers": kafka.bootstrap, "topic_prefix": topics.prefix, "port": 0,
            "state_dir": tmp_path / "state", "ndxp": NdxpSettings(url=stub.url),
            # Two quick attempts dead-letter fast; a breaker that never opens keeps every
            # failure a plain TransientForwardError and every replay a clean first try.
            # Holding is off: this suite's outages must dead-letter, for replays to replay.
            "router": RouterSettings(max_attempts=2, backoff_initial_s=0.01,
                                     backoff_max_s=0.02,
                                     breaker_failure_threshold=1_000_000,
                                     commit_interval_s=0.1, hold_enabled=False),
            **settings_overrides,
        })
        gateway = Gateway(settings)
        await gateway.start()
        producer = Producer(kafka.bootstrap)
        await producer.start()
        try:
            yield Rig(topics=topics, codec=codec, stub=stub, gateway=gateway,
                      producer=producer, bootstrap=kafka.bootstrap)
        finally:
            await producer.stop()
            await gateway.stop()
