"""`lgsp kafka up|down|status`: the project's own local KRaft broker."""

from __future__ import annotations

import argparse
from typing import Any

from devkit.localkafka import LocalBroker
from gateway.cli._base import CommandParser, add_config_option, settings_from


def register(sub: argparse._SubParsersAction[CommandParser]) -> None:
    """Add `lgsp kafka ...`."""
    kafka = sub.add_parser("kafka", help="run the local single-node Kafka broker (KRaft)",
                           description="Run a local Apache Kafka broker fetched from Maven "
                           "Central, on 127.0.0.1.")
    verbs = kafka.add_subparsers(dest="verb", metavar="VERB", required=True)
    up = verbs.add_parser("up", help="fetch, start and wait for the broker; print bootstrap",
                          description="Fetch the pinned Kafka jars with Maven (once), format "
                          "storage, start the broker and print its bootstrap address.")
    down = verbs.add_parser("down", help="stop the broker cleanly",
                            description="Stop the local broker (SIGTERM, then SIGKILL).")
    down.add_argument("--wipe", action="store_true", help="also delete the broker's data")
    status = verbs.add_parser("status", help="say whether the broker runs (exit 3 if not)",
                              description="Say whether the local broker runs; exit 0 if it "
                              "does, 3 if it does not.")
    for parser in (up, down, status):
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


def _broker(args: argparse.Namespace) -> LocalBroker:
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
    return LocalBroker.from_settings(settings, secure=args.secure)


async def _up(args: argparse.Namespace) -> int:
    broker = _broker(args)
    bootstrap = await broker.up()
    print(bootstrap)
    if broker.secure is not None:
        for key, value in broker.secure.client_settings().items():
            print(f"{key}={value}")
    return 0


async def _down(args: argparse.Namespace) -> int:
    broker = _broker(args)
    stopped = await broker.down()
    if args.wipe:
        broker.wipe()
    print("stopped" if stopped else "not running")
    return 0


async def _status(args: argparse.Namespace) -> int:
    status = _broker(args).status()
    if status.running:
        print(f"running (pid {status.pid}) at {status.bootstrap}; log {status.log_path}")
        return 0
    print(f"not running; log {status.log_path}")
    return 3
