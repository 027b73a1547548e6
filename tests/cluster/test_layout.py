"""The local cluster's ports and recorded layout (no JVM started)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from devkit.localkafka import LocalCluster, NodePorts, spread_ports
from gateway.errors import LocalBrokerError


def test_nodes_take_every_other_port_from_the_defaults() -> None:
    assert spread_ports(3, 9092, 9093) == [
        NodePorts(1, 9092, 9093), NodePorts(2, 9094, 9095), NodePorts(3, 9096, 9097)]
    assert spread_ports(1, 9092, 9093) == [NodePorts(1, 9092, 9093)]


@pytest.mark.parametrize(("port", "controller"), [(9092, 9094), (9092, 9092), (65534, 9093)])
def test_overlapping_or_too_high_ports_are_one_line(port: int, controller: int) -> None:
    with pytest.raises(LocalBrokerError, match="overlap or exceed 65535") as caught:
        spread_ports(3, port, controller)
    assert "\n" not in str(caught.value)


def test_a_recorded_layout_wins_over_the_ports_given(tmp_path: Path) -> None:
    first = LocalCluster(tmp_path, spread_ports(3, 9092, 9093), lib_cache=tmp_path / "lib")
    first.write_layout()
    again = LocalCluster(tmp_path, spread_ports(3, 19092, 19093), lib_cache=tmp_path / "lib")
    assert again.cluster_id == first.cluster_id
    assert again.bootstrap == "127.0.0.1:9092,127.0.0.1:9094,127.0.0.1:9096"
    props = json.loads((tmp_path / "cluster.json").read_text())
    assert [n["port"] for n in props["nodes"]] == [9092, 9094, 9096]


def test_an_unreadable_layout_says_how_to_start_afresh(tmp_path: Path) -> None:
    (tmp_path / "cluster.json").write_text("{not json")
    with pytest.raises(LocalBrokerError, match="down --wipe"):
        LocalCluster(tmp_path, [], lib_cache=tmp_path / "lib")


def test_no_such_node_names_the_valid_ones(tmp_path: Path) -> None:
    cluster = LocalCluster(tmp_path, spread_ports(3, 9092, 9093), lib_cache=tmp_path / "lib")
    with pytest.raises(LocalBrokerError, match="there is no node 4: the local cluster has "
                                               "nodes 1, 2, 3"):
        cluster.node(4)
    status = cluster.status()
    assert status.running == 0 and status.leader is None
