"""A local KRaft cluster: several combined broker+controller nodes on loopback.

Each node is a `LocalBroker` with its own ports, data dir, log and pid file under
`<home>/node-<id>/`; every node is a voter, so the controller quorum survives the loss
of a minority (one node of three). The layout (cluster id, each node's ports) is kept in
`<home>/cluster.json`, so `status`, `stop --node` and `start --node` find the nodes
without being told the ports again, and a restarted cluster keeps its voters.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

from devkit.localkafka._broker import LocalBroker, new_cluster_id
from gateway.errors import LocalBrokerError
from gateway.kafka import KafkaAdmin
from gateway.logs import get_logger
from gateway.settings import Settings

log = get_logger(__name__)

# An even number of voters tolerates no more failures than one voter fewer.
NODE_COUNTS = (1, 3, 5)


@dataclass(frozen=True, slots=True)
class NodePorts:
    """The two loopback ports of one node."""

    node_id: int
    port: int
    controller_port: int


@dataclass(frozen=True, slots=True)
class NodeStatus:
    """One line of `lgsp kafka status` for a cluster."""

    node_id: int
    running: bool
    pid: int | None
    port: int
    controller_port: int
    log_path: Path
    quorum_leader: bool


@dataclass(frozen=True, slots=True)
class ClusterStatus:
    """Every node, and the controller quorum's leader when a running node knows it."""

    nodes: list[NodeStatus]
    leader: int | None

    @property
    def running(self) -> int:
        """How many nodes run."""
        return sum(1 for n in self.nodes if n.running)


def spread_ports(count: int, port: int, controller_port: int) -> list[NodePorts]:
    """Node i (from 1) listens on port + 2(i-1) and controller_port + 2(i-1)."""
    nodes = [NodePorts(i, port + 2 * (i - 1), controller_port + 2 * (i - 1))
             for i in range(1, count + 1)]
    every = [p for n in nodes for p in (n.port, n.controller_port)]
    if len(set(every)) != len(every) or max(every) > 65535:
        raise LocalBrokerError(
            f"the ports of a {count}-node cluster from --port {port} and --controller-port "
            f"{controller_port} overlap or exceed 65535 (node i uses both plus 2(i-1)); "
            "choose ports an odd distance apart"
        )
    return nodes


class LocalCluster:
    """Several KRaft nodes started, stopped and inspected together or one at a time."""

    def __init__(
        self,
        home: Path,
        nodes: list[NodePorts],
        *,
        lib_cache: Path,
        kafka_version: str = "3.9.1",
        heap: str = "512m",
        start_timeout_s: float = 90.0,
        secure: bool = False,
    ) -> None:
        self.home = home.resolve()
        layout = self._read_layout()
        if layout is not None:
            cluster_id, nodes = layout
        else:
            cluster_id = new_cluster_id()
        self.cluster_id = cluster_id
        self.ports = nodes
        quorum = ",".join(f"{n.node_id}@127.0.0.1:{n.controller_port}" for n in nodes)
        replication = min(3, len(nodes))
        self.nodes: dict[int, LocalBroker] = {
            n.node_id: LocalBroker(
                self.home / f"node-{n.node_id}", lib_cache=lib_cache,
                kafka_version=kafka_version, port=n.port, controller_port=n.controller_port,
                heap=heap, start_timeout_s=start_timeout_s, secure=secure,
                node_id=n.node_id, quorum=quorum, cluster_id=cluster_id,
                replication=replication, tls_dir=self.home / "tls",
            )
            for n in nodes
        }

    @classmethod
    def from_settings(cls, settings: Settings, count: int, *, secure: bool = False
                      ) -> LocalCluster:
        """The cluster `lgsp kafka up --nodes N` manages, under the state dir."""
        b = settings.broker
        home = cluster_home(settings, secure=secure)
        # A recorded layout wins over the ports given now: the voters are fixed at format.
        nodes = [] if (home / "cluster.json").exists() else spread_ports(
            count, b.port, b.controller_port)
        return cls(home, nodes, lib_cache=settings.cache_dir / "kafka",
                   kafka_version=b.kafka_version, heap=b.heap,
                   start_timeout_s=b.start_timeout_s, secure=secure)

    @property
    def layout_path(self) -> Path:
        """Where the cluster id and the nodes' ports are kept."""
        return self.home / "cluster.json"

    @property
    def bootstrap(self) -> str:
        """Every node's address, as clients' bootstrap list."""
        return ",".join(b.bootstrap for b in self.nodes.values())

    def _read_layout(self) -> tuple[str, list[NodePorts]] | None:
        try:
            data = json.loads(self.layout_path.read_text())
            nodes = [NodePorts(int(n["id"]), int(n["port"]), int(n["controller_port"]))
                     for n in data["nodes"]]
            return str(data["cluster_id"]), nodes
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise LocalBrokerError(f"the cluster layout {self.layout_path} is unreadable "
                                   f"({exc}); `lgsp kafka down --wipe` starts afresh") from exc

    def write_layout(self) -> None:
        """Record the cluster id and the nodes' ports (`up` does, before starting)."""
        self.home.mkdir(parents=True, exist_ok=True)
        self.layout_path.write_text(json.dumps({
            "cluster_id": self.cluster_id,
            "nodes": [{"id": n.node_id, "port": n.port, "controller_port": n.controller_port}
                      for n in self.ports],
        }, indent=2) + "\n")

    def node(self, node_id: int) -> LocalBroker:
        """One node; LocalBrokerError naming the valid ids if there is no such node."""
        try:
            return self.nodes[node_id]
        except KeyError:
            raise LocalBrokerError(
                f"there is no node {node_id}: the local cluster has nodes "
                f"{', '.join(str(i) for i in self.nodes)}"
            ) from None

    async def up(self, *, die_with_parent: bool = False) -> str:
        """Start every node that is not running, wait until all serve; returns bootstrap."""
        stopped = [b for b in self.nodes.values() if not b.status().running]
        for broker in stopped:
            broker.check_ports()
        if stopped:
            await next(iter(self.nodes.values())).fetch()
            self.write_layout()
            await asyncio.gather(*(b.prepare() for b in stopped))
            # All at once: no node finishes starting before a quorum majority is up.
            try:
                for broker in stopped:
                    await broker.spawn(die_with_parent=die_with_parent)
                await asyncio.gather(*(b.wait_ready() for b in stopped))
                await self._wait_registered()
            except BaseException:
                await self.down()
                raise
            log.info("kafka cluster up", bootstrap=self.bootstrap, nodes=len(self.nodes))
        return self.bootstrap

    async def _wait_registered(self) -> None:
        # A node says "started" before every other node's metadata lists it; clients that
        # count brokers (topic replication) must see them all.
        if next(iter(self.nodes.values())).secure is not None:
            return  # the credentials are this process's to choose, not ours; logs suffice
        expected = self.status().running
        timeout_s = next(iter(self.nodes.values())).start_timeout_s
        deadline = asyncio.get_running_loop().time() + timeout_s
        admin = KafkaAdmin(self.bootstrap, client_id="lgsp-localkafka")
        await admin.start()
        try:
            while (seen := await admin.broker_count()) < expected:
                if asyncio.get_running_loop().time() > deadline:
                    raise LocalBrokerError(
                        f"only {seen} of {expected} nodes joined the cluster within "
                        f"{timeout_s:.0f}s; see the logs under {self.home}")
                await asyncio.sleep(0.2)
        finally:
            await admin.stop()

    async def start_node(self, node_id: int, *, die_with_parent: bool = False) -> str:
        """Start one stopped node and wait until it serves; returns its address."""
        broker = self.node(node_id)
        if broker.status().running:
            raise LocalBrokerError(f"node {node_id} is already running (pid "
                                   f"{broker.status().pid})")
        majority = len(self.nodes) // 2 + 1
        if self.status().running + 1 < majority:
            raise LocalBrokerError(
                f"node {node_id} cannot start alone: the {len(self.nodes)}-voter quorum needs "
                f"{majority} nodes running; start the cluster with `lgsp kafka up --nodes "
                f"{len(self.nodes)}`"
            )
        address = await broker.up(die_with_parent=die_with_parent)
        await self._wait_registered()
        return address

    async def stop_node(self, node_id: int, *, kill: bool = False,
                        grace_s: float = 30.0) -> None:
        """Stop one node: SIGTERM then SIGKILL after `grace_s`, or SIGKILL at once."""
        broker = self.node(node_id)
        if not broker.status().running:
            raise LocalBrokerError(f"node {node_id} is not running")
        if kill:
            await broker.kill()
        else:
            await broker.down(timeout_s=grace_s)

    async def down(self, *, timeout_s: float = 30.0) -> bool:
        """Stop every node (concurrently); True if any was running."""
        stopped = await asyncio.gather(*(b.down(timeout_s=timeout_s)
                                         for b in self.nodes.values()))
        return any(stopped)

    def status(self) -> ClusterStatus:
        """Each node's state; the quorum leader as the running nodes last recorded it."""
        leader = self._leader()
        nodes = []
        for node_id, broker in self.nodes.items():
            s = broker.status()
            nodes.append(NodeStatus(node_id, s.running, s.pid, broker.port,
                                    broker.controller_port, s.log_path,
                                    s.running and node_id == leader))
        return ClusterStatus(nodes, leader)

    def _leader(self) -> int | None:
        # KRaft keeps its view of the election in quorum-state; the newest epoch among
        # the running nodes is the current leader, as far as the files can tell.
        best: tuple[int, int] | None = None
        for broker in self.nodes.values():
            if not broker.status().running:
                continue
            state = broker.home / "data" / "__cluster_metadata-0" / "quorum-state"
            with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
                data = json.loads(state.read_text())
                epoch, leader = int(data["leaderEpoch"]), int(data["leaderId"])
                if leader >= 0 and (best is None or epoch > best[0]):
                    best = (epoch, leader)
        if best is None or best[1] not in self.nodes \
                or not self.nodes[best[1]].status().running:
            return None
        return best[1]

    def wipe(self) -> None:
        """Delete every node's data and the layout (only while all are stopped)."""
        if self.status().running:
            raise LocalBrokerError("refusing to wipe the data of a running cluster; "
                                   "stop it first")
        shutil.rmtree(self.home, ignore_errors=True)


def cluster_home(settings: Settings, *, secure: bool = False) -> Path:
    """Where `lgsp kafka up --nodes N` keeps its cluster (apart from the single node)."""
    return settings.state_dir / ("kafka-secure-cluster" if secure else "kafka-cluster")
