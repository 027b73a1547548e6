"""The `lgsp` console command: one parser, a module per subcommand group.

Every error a user can cause ends as one line on stderr and a non-zero exit:
usage errors exit 2, gateway errors exit 1, Ctrl-C exits 130.
"""

from __future__ import annotations

__all__ = ["main"]

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence

import uvloop

from gateway.cli import (
    _bench,
    _connectors,
    _kafka,
    _replay,
    _run,
    _schemas,
    _simulate,
    _stub,
    _trace,
)
from gateway.cli._base import CommandParser, Handler
from gateway.errors import GatewayError
from gateway.logs import configure_logging

# Each module adds its subcommands to the parser with `register(subparsers)`.
COMMANDS = (_kafka, _schemas, _stub, _run, _connectors, _simulate, _bench, _replay, _trace)


def build_parser() -> CommandParser:
    """The full `lgsp` argument parser."""
    parser = CommandParser(
        prog="lgsp",
        description="LGSP gateway: provincial systems to the national data exchange platform.",
    )
    parser.add_argument("--log-format", choices=["auto", "json", "console"], default=None,
                        help="log renderer (env LGSP_LOG_FORMAT; default: console on a tty)")
    parser.add_argument("--log-level", choices=["DEBUG", "INFO", "WARNING", "ERROR"],
                        default=None, help="log level (env LGSP_LOG_LEVEL)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in COMMANDS:
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `lgsp` command."""
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler = args.handler
    configure_logging(
        args.log_format or os.environ.get("LGSP_LOG_FORMAT", "auto"),  # type: ignore[arg-type]
        args.log_level or os.environ.get("LGSP_LOG_LEVEL", "INFO"),
    )
    try:
        return _execute(handler, args)
    except GatewayError as exc:
        print(f"lgsp: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("lgsp: interrupted", file=sys.stderr)
        return 130


def _execute(handler: Handler, args: argparse.Namespace) -> int:
    # uvloop: the same asyncio API, markedly less per-event overhead on the hot paths.
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(handler(args))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
