"""A connector's status trace (GET /connectors/{name}/status) is redacted like a log line."""

from __future__ import annotations

from pathlib import Path

import pytest

from connectors.reporting import ReportingConnector
from devkit.localkafka import free_port
from gateway.connect import ConnectorState, PluginCatalog
from gateway.settings import ConnectorFilesSettings, Settings
from gateway.topics import Topics
from tests.conftest import BrokerHandle
from tests.connect.fixtures import RuntimeFactory
from tests.connect.support import AGENCY, wait_state

pytestmark = pytest.mark.integration

ID = "079203001234"


@pytest.fixture
def catalog() -> PluginCatalog:
    """The reporting plugin, whose start-up error quotes its folder."""
    return PluginCatalog.of(ReportingConnector)


@pytest.fixture
def settings(kafka: BrokerHandle, topics: Topics, tmp_path: Path) -> Settings:
    """Drop folders confined to this test's temporary folder."""
    return Settings(topic_prefix=topics.prefix, bootstrap_servers=kafka.bootstrap,
                    port=free_port(),
                    connector_files=ConnectorFilesSettings(root=tmp_path))


async def test_a_failed_connectors_trace_masks_personal_data(
    runtime_factory: RuntimeFactory, topics: Topics, tmp_path: Path
) -> None:
    name = f"{topics.prefix}rp"
    config = {"connector.class": "reporting", "source.agency.code": AGENCY,
              "watch.dir": str(tmp_path / f"citizen-{ID}")}
    async with runtime_factory() as rt:
        await rt.create(name, config)
        await wait_state(rt, name, ConnectorState.FAILED)
        trace = rt.status(name).connector.trace or ""
    assert "watch.dir: " in trace and "is not a folder" in trace, trace
    assert ID not in trace, trace
    assert "citizen-***" in trace
