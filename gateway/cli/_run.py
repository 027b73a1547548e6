"""`lgsp run`: the gateway process (connectors, router, admin API, metrics, health)."""

from __future__ import annotations

import argparse

from gateway.app import Gateway
from gateway.cli._base import CommandParser, add_config_option, settings_from
from gateway.cli._types import port
from gateway.gc_tuning import freeze_startup_objects, relax_collector
from gateway.ndxp.policy import check_national_endpoint


def register(sub: argparse._SubParsersAction[CommandParser]) -> None:
    """Add `lgsp run`."""
    run = sub.add_parser(
        "run", help="run the gateway: connectors, router and the admin API",
        description="Run the gateway until SIGTERM or Ctrl-C: connectors publish to Kafka, "
        "the router forwards to NDXP, and one HTTP port serves the admin REST API "
        "(Kafka Connect style), /metrics, /healthz, /readyz and /openapi.json. Prints one "
        "line with the admin URL when ready; logs go to stderr.",
    )
    add_config_option(run)
    run.add_argument("--bootstrap-servers", default=None, metavar="HOST:PORT",
                     help="Kafka bootstrap servers (env LGSP_BOOTSTRAP_SERVERS, "
                     "default 127.0.0.1:9092)")
    run.add_argument("--port", type=port, default=None, metavar="N",
                     help="admin API port (env LGSP_PORT, default 8083; 0 picks a free one)")
    run.add_argument("--host", default=None, metavar="H",
                     help="admin API address (env LGSP_HOST, default 127.0.0.1)")
    run.add_argument("--roles", default=None, metavar="ROLES",
                     help="what this process runs: connectors,router (default both; env "
                     "LGSP_ROLES). Production runs one connectors process and scales "
                     "router-only processes on consumer lag")
    run.set_defaults(handler=_run)


async def _run(args: argparse.Namespace) -> int:
    settings = settings_from(args, bootstrap_servers=args.bootstrap_servers,
                             port=args.port, host=args.host, roles=args.roles)

    if "router" in settings.roles:
        # Before anything starts: a refused endpoint is one line, not a half-started gateway.
        check_national_endpoint(settings.ndxp)

    relax_collector()

    def announce(url: str) -> None:
        freeze_startup_objects()
        roles = "" if len(settings.roles) == 2 else f"; roles {','.join(settings.roles)}"
        print(f"gateway ready: admin API {url} (metrics /metrics){roles}", flush=True)

    await Gateway(settings).run_until_stopped(on_ready=announce)
    return 0
