"""Small helpers for reading what connectors did: metrics, topic contents, states."""

from __future__ import annotations

from gateway.connect import ConnectorRuntime, ConnectorState
from gateway.contracts import Codec
from gateway.kafka import read_topic
from gateway.metrics import GATEWAY
from gateway.settings import Settings
from gateway.topics import Topics
from tests.connect.plugins import counter_values
from tests.support.waiting import wait_for

AGENCY = "000.00.00.H12"


def counter_config(**overrides: str) -> dict[str, str]:
    """A valid counter config (Kafka Connect style: every value a string)."""
    return {"connector.class": "counter", "source.agency.code": AGENCY, **overrides}


def ingested(name: str) -> float:
    """Records the connector published and Kafka acknowledged (lgsp_ingested_total)."""
    return GATEWAY.get_sample_value("lgsp_ingested_total", {"connector": name}) or 0.0


def state_gauge(name: str, state: ConnectorState) -> float | None:
    """The lgsp_connector_state sample for one connector and state."""
    return GATEWAY.get_sample_value("lgsp_connector_state",
                                    {"connector": name, "state": state.value})


async def topic_values(settings: Settings, codec: Codec, name: str) -> list[int]:
    """Counter numbers in the connector's topic (all partitions)."""
    topic = Topics(settings.topic_prefix).source(name)
    return counter_values(codec, await read_topic(settings.bootstrap_servers, topic))


async def wait_state(runtime: ConnectorRuntime, name: str, state: ConnectorState) -> None:
    """Wait until the connector reaches a state."""
    async def probe() -> ConnectorState:
        return runtime.status(name).connector.state
    await wait_for(probe, lambda s: s is state, timeout_s=20, what=f"{name} {state}")


async def wait_ingested(name: str, at_least: float) -> float:
    """Wait until the connector has published at least this many records."""
    async def probe() -> float:
        return ingested(name)
    return await wait_for(probe, lambda n: n >= at_least, timeout_s=20,
                          what=f"{name} to publish {at_least:g} records")


def assert_continuous(values: list[int], batch: int, interruptions: int = 1) -> None:
    """Numbers 0..max with no gap, re-published at most one batch per interruption.

    A connector that restarted from 0 instead of its position would re-publish far more.
    """
    assert values, "no records"
    assert sorted(set(values)) == list(range(max(values) + 1)), "a gap in the numbers"
    duplicates = len(values) - len(set(values))
    assert duplicates <= batch * interruptions, f"{duplicates} records re-published"
