"""The project's own Apache Kafka (KRaft), run from Maven Central jars.

A single node (`LocalBroker`) or a cluster of several combined broker+controller nodes
(`LocalCluster`). Used by `lgsp kafka up|down|status|stop|start`, by the test fixtures
when no other broker is given, and by the demo and benchmarks. Jars are fetched with
Maven into an ignored cache folder.
"""

from devkit.localkafka._broker import BrokerStatus, LocalBroker, free_port, min_insync
from devkit.localkafka._cluster import (
    NODE_COUNTS,
    ClusterStatus,
    LocalCluster,
    NodePorts,
    NodeStatus,
    cluster_home,
    spread_ports,
)

__all__ = [
    "NODE_COUNTS",
    "BrokerStatus",
    "ClusterStatus",
    "LocalBroker",
    "LocalCluster",
    "NodePorts",
    "NodeStatus",
    "cluster_home",
    "free_port",
    "min_insync",
    "spread_ports",
]
