"""A three-broker local KRaft cluster for the tests that ask for it.

Not part of the session broker: starting three JVMs costs ten seconds or more on a small
machine, so only modules that need a cluster pay for it. Use it from a conftest or a
test module with `from tests.support.cluster import three_brokers  # noqa: F401`.
The cluster lives under `<tmp>/state/kafka-cluster`, where `lgsp kafka` finds it when
run with `handle.env`, so the CLI and the tests drive the same nodes.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from devkit.localkafka import LocalCluster, NodePorts, free_port
from gateway.errors import GatewayError
from tests.support.broker import REPO_ROOT

NODES = 3


class ClusterHandle:
    """The running cluster: its bootstrap list, the nodes, and the CLI's environment."""

    def __init__(self, cluster: LocalCluster, state_dir: Path) -> None:
        self.cluster = cluster
        self.bootstrap = cluster.bootstrap
        self.state_dir = state_dir

    @property
    def env(self) -> dict[str, str]:
        """Environment under which `lgsp kafka ...` manages this very cluster."""
        return {**os.environ, "LGSP_STATE_DIR": str(self.state_dir),
                "LGSP_CACHE_DIR": str(REPO_ROOT / ".lgsp" / "cache"),
                "LGSP_LOG_FORMAT": "json"}

    async def all_up(self) -> None:
        """Start whatever node an earlier test left stopped; wait until all serve."""
        await self.cluster.up(die_with_parent=True)


@contextlib.asynccontextmanager
async def local_cluster(state_dir: Path, nodes: int = NODES) -> AsyncIterator[ClusterHandle]:
    """Start a cluster of `nodes` on free ports under `state_dir`; stop it at the end."""
    ports = [NodePorts(i, free_port(), free_port()) for i in range(1, nodes + 1)]
    cluster = LocalCluster(state_dir / "kafka-cluster", ports,
                           lib_cache=REPO_ROOT / ".lgsp" / "cache" / "kafka")
    try:
        await cluster.up(die_with_parent=True)
        yield ClusterHandle(cluster, state_dir)
    finally:
        await cluster.down()


@pytest.fixture(scope="module")
async def three_brokers(tmp_path_factory: pytest.TempPathFactory
                        ) -> AsyncIterator[ClusterHandle]:
    """Three combined broker+controller nodes for one test module; fails, never skips."""
    state_dir = tmp_path_factory.mktemp("cluster") / "state"
    try:
        async with local_cluster(state_dir) as handle:
            yield handle
    except (GatewayError, OSError) as exc:
        pytest.fail(f"no three-broker cluster for the tests: {exc}", pytrace=False)
