"""`lgsp kafka up|down|status|stop|start`: the project's own local KRaft broker or cluster.

`up` starts one node unless `--nodes` asks for a cluster. The other verbs act on the
local cluster when one is recorded under the state dir and the single node is not
running, else on the single node: a state dir holds one of each, and only one can run
(node 1 of a cluster has the single node's ports).
"""

from __future__ import annotations

import argparse
from typing import Any

from devkit.localkafka import NODE_COUNTS, ClusterStatus, LocalBroker, LocalCluster, cluster_home
from gateway.cli._base import CommandParser, add_config_option, settings_from
from gateway.errors import LocalBrokerError
from gateway.settings import Settings

# `status` of a cluster: every node runs 0, some 4, none 3 (as for a single node).
_EXIT_DEGRADED = 4
_EXIT_NOT_RUNNING = 3


def register(sub: argparse._SubParsersAction[CommandParser]) -> None:
    """Add `lgsp kafka ...`."""
    kafka = sub.add_parser("kafka", help="run the local Kafka broker or cluster (KRaft)",
                           description="Run a local Apache Kafka broker, or a cluster of "
                           "several, fetched from Maven Central, on 127.0.0.1.")
    verbs = kafka.add_subparsers(dest="verb", metavar="VERB", required=True)
    up = verbs.add_parser("up", help="fetch, start and wait for the broker; print bootstrap",
                          description="Fetch the pinned Kafka jars with Maven (once), format "
                          "storage, start the broker (or every node of a cluster) and print "
                          "the bootstrap address(es).")
    up.add_argument("--nodes", type=int, choices=NODE_COUNTS, default=1,
                    help="how many combined broker+controller nodes (default 1); node i of a "
                    "cluster listens on --port + 2(i-1) and --controller-port + 2(i-1), "
                    "and every node is a voter of the controller quorum")
    down = verbs.add_parser("down", help="stop the broker or every node cleanly",
                            description="Stop the local broker or cluster (SIGTERM, then "
                            "SIGKILL).")
    down.add_argument("--wipe", action="store_true", help="also delete the data (a cluster's "
                      "layout too: the next `up` may choose another node count)")
    status = verbs.add_parser("status", help="say whether the broker or each node runs",
                              description="Say whether the local broker runs; exit 0 if it "
                              "does, 3 if it does not. For a cluster: one line per node (id, "
                              "ports, pid, up/down, role, quorum leader); exit 0 if every "
                              "node runs, 4 if some do, 3 if none.")
    stop = verbs.add_parser("stop", help="stop one node of the local cluster (fault tests)",
                            description="Stop one node of the local cluster: SIGTERM, then "
                            "SIGKILL after the grace period; --kill sends SIGKILL at once, "
                            "as a crash would.")
    stop.add_argument("--kill", action="store_true", help="SIGKILL at once (a crash)")
    stop.add_argument("--grace", type=float, default=30.0, metavar="SECONDS",
                      help="how long SIGTERM may take before SIGKILL (default 30)")
    start = verbs.add_parser("start", help="start one stopped node of the local cluster",
                             description="Start one stopped node of the local cluster and "
                             "wait until it serves; print its address.")
    for parser in (stop, start):
        parser.add_argument("--node", type=int, required=True, metavar="N",
                            help="the node id (1 to the cluster's node count)")
    for parser in (up, down, status, stop, start):
        add_config_option(parser)
        parser.add_argument("--port", type=int, default=None,
                            help="broker port (env LGSP_BROKER__PORT, default 9092)")
        parser.add_argument("--controller-port", type=int, default=None,
                            help="KRaft controller port (env LGSP_BROKER__CONTROLLER_PORT)")
        parser.add_argument("--secure", action="store_true",
                            help="the secure broker: a SASL_SSL listener (TLS with a CA "
                            "generated into the state dir, SCRAM-SHA-512/256 and PLAIN "
                            "users); `up` then also prints the LGSP_KAFKA__* client "
                            "settings, one KEY=VALUE per line")
    up.set_defaults(handler=_up)
    down.set_defaults(handler=_down)
    status.set_defaults(handler=_status)
    stop.set_defaults(handler=_stop)
    start.set_defaults(handler=_start)


def _settings(args: argparse.Namespace) -> Settings:
    broker: dict[str, Any] = {}
    if args.port is not None:
        broker["port"] = args.port
    if args.controller_port is not None:
        broker["controller_port"] = args.controller_port
    settings = settings_from(args)
    if broker:
        settings = settings.model_copy(
            update={"broker": settings.broker.model_copy(update=broker)}
        )
    return settings


def _target(args: argparse.Namespace) -> LocalBroker | LocalCluster:
    """The recorded cluster unless the single node runs; else the single node."""
    settings = _settings(args)
    single = LocalBroker.from_settings(settings, secure=args.secure)
    if (cluster_home(settings, secure=args.secure) / "cluster.json").exists() \
            and not single.status().running:
        return LocalCluster.from_settings(settings, 0, secure=args.secure)
    return single


def _cluster(args: argparse.Namespace) -> LocalCluster:
    target = _target(args)
    if isinstance(target, LocalBroker):
        raise LocalBrokerError(
            "there is no local cluster (" + ("the single broker runs" if target.status().running
                                             else "none was started")
            + "); start one with `lgsp kafka up --nodes 3`"
        )
    return target


async def _up(args: argparse.Namespace) -> int:
    settings = _settings(args)
    single = LocalBroker.from_settings(settings, secure=args.secure)
    cluster = LocalCluster.from_settings(settings, args.nodes, secure=args.secure) \
        if args.nodes > 1 or (cluster_home(settings, secure=args.secure)
                              / "cluster.json").exists() else None
    if args.nodes == 1:
        if cluster is not None and cluster.status().running:
            raise LocalBrokerError(f"a {len(cluster.nodes)}-node local cluster runs; stop it "
                                   "with `lgsp kafka down` first")
        print(await single.up())
        secure = single.secure
    else:
        assert cluster is not None
        if single.status().running:
            raise LocalBrokerError("the single local broker runs; stop it with "
                                   "`lgsp kafka down` first")
        if len(cluster.nodes) != args.nodes:
            raise LocalBrokerError(
                f"the local cluster in {cluster.home} has {len(cluster.nodes)} nodes; run "
                f"`lgsp kafka down --wipe` to start afresh with {args.nodes}"
            )
        print(await cluster.up())
        secure = next(iter(cluster.nodes.values())).secure
    if secure is not None:
        for key, value in secure.client_settings().items():
            print(f"{key}={value}")
    return 0


async def _down(args: argparse.Namespace) -> int:
    target = _target(args)
    stopped = await target.down()
    if args.wipe:
        target.wipe()
    print("stopped" if stopped else "not running")
    return 0


async def _status(args: argparse.Namespace) -> int:
    target = _target(args)
    if isinstance(target, LocalCluster):
        return _print_cluster(target, target.status())
    status = target.status()
    if status.running:
        print(f"running (pid {status.pid}) at {status.bootstrap}; log {status.log_path}")
        return 0
    print(f"not running; log {status.log_path}")
    return _EXIT_NOT_RUNNING


def _print_cluster(cluster: LocalCluster, status: ClusterStatus) -> int:
    total = len(status.nodes)
    leader = f"node {status.leader}" if status.leader is not None else "unknown"
    state = "not running" if status.running == 0 else f"{status.running} of {total} running"
    print(f"cluster of {total} nodes, {state}; controller quorum leader: {leader}; "
          f"bootstrap {cluster.bootstrap}")
    for n in status.nodes:
        role = "broker+controller, " + ("quorum leader" if n.quorum_leader else "voter")
        pid = f"pid {n.pid}" if n.pid is not None else "pid -"
        print(f"node {n.node_id}  {'up' if n.running else 'down':<4}  {pid:<10}  "
              f"broker 127.0.0.1:{n.port}  controller 127.0.0.1:{n.controller_port}  "
              f"{role}  log {n.log_path}")
    if status.running == total:
        return 0
    return _EXIT_NOT_RUNNING if status.running == 0 else _EXIT_DEGRADED


async def _stop(args: argparse.Namespace) -> int:
    cluster = _cluster(args)
    await cluster.stop_node(args.node, kill=args.kill, grace_s=args.grace)
    print(f"node {args.node} {'killed' if args.kill else 'stopped'}")
    return 0


async def _start(args: argparse.Namespace) -> int:
    cluster = _cluster(args)
    print(await cluster.start_node(args.node))
    return 0
