"""The `lgsp` console command: one parser, a module per subcommand group.

Every error a user can cause ends as one line on stderr and a non-zero exit:
usage errors exit 2, gateway errors exit 1, Ctrl-C exits 130.
"""

from __future__ import annotations

__all__ = ["main"]

import argparse
import asyncio
import importlib
import os
import sys
from collections.abc import Sequence
from types import ModuleType

import uvloop

from gateway.cli import (
    _audit,
    _connectors,
    _import,
    _index,
    _plugin,
    _replay,
    _run,
    _schemas,
    _tokens,
    _trace,
)
from gateway.cli._base import CommandParser, Handler
from gateway.errors import ConfigError, GatewayError
from gateway.logs import configure_logging

# Each module adds its subcommands to the parser with `register(subparsers)`.
COMMANDS = (_schemas, _run, _connectors, _replay, _trace, _index, _plugin, _tokens, _audit,
            _import)

# The development kit's commands: module and one-line help. A module is imported only
# when its command runs (or `lgsp --help` lists everything), so production commands,
# `lgsp run` above all, never load the development kit, which may not even be installed.
DEVKIT_COMMANDS: dict[str, tuple[str, str]] = {
    "kafka": ("devkit.cli.kafka", "run the local Kafka broker (KRaft) [development kit]"),
    "stub": ("devkit.cli.stub", "run the national data exchange (NDXP) stub [development kit]"),
    "simulate": ("devkit.cli.simulate", "simulate a provincial system [development kit]"),
    "bench": ("devkit.cli.bench", "measure throughput, latency and memory [development kit]"),
}


def build_parser(argv: Sequence[str] | None = None) -> CommandParser:
    """The `lgsp` argument parser, with the development-kit command `argv` names loaded."""
    wanted = _devkit_command(sys.argv[1:] if argv is None else argv)
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
    for name, (module_name, help_text) in DEVKIT_COMMANDS.items():
        if name == wanted:
            _devkit_module(module_name).register(sub)
        else:
            sub.add_parser(name, help=help_text, add_help=False)
    return parser


def _devkit_command(argv: Sequence[str]) -> str | None:
    """The development-kit command `argv` runs, if any (the first word naming a command)."""
    for word in argv:
        if word in DEVKIT_COMMANDS:
            return word
        if not word.startswith("-") and word not in ("auto", "json", "console", "DEBUG",
                                                      "INFO", "WARNING", "ERROR"):
            return None
    return None


def _devkit_module(name: str) -> ModuleType:
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name is None or not exc.name.startswith("devkit"):
            raise
        raise ConfigError(
            "this command is part of the development kit (package lgsp-devkit), which is "
            "not installed here; in a checkout, `make setup` installs it"
        ) from exc


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `lgsp` command."""
    try:
        parser = build_parser(argv)
    except GatewayError as exc:
        print(f"lgsp: error: {exc}", file=sys.stderr)
        return 1
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
