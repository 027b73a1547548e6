"""`lgsp plugin new NAME`: scaffold a connector plugin package."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from gateway.cli._base import CommandParser
from gateway.scaffold import write_plugin


def register(sub: argparse._SubParsersAction[CommandParser]) -> None:
    """Add `lgsp plugin ...`."""
    plugin = sub.add_parser("plugin", help="write a new connector plugin package",
                            description="Work with connector plugin packages.")
    verbs = plugin.add_subparsers(dest="verb", metavar="VERB", required=True)
    new = verbs.add_parser(
        "new", help="scaffold a plugin package whose tests pass as generated",
        description="Write lgsp-NAME-connector/ under --dir: pyproject with entry points "
        "(connector, schemas, contract harness), config model, polling connector with a "
        "default route, its own Avro schema, a fake source system, the harness and tests "
        "(the gateway's contract suite). Then: cd into it, pip install -e '.[dev]', pytest.",
    )
    new.add_argument("name", metavar="NAME",
                     help="plugin name: lowercase words joined by hyphens, e.g. radio-licensing")
    new.add_argument("--dir", type=Path, default=Path(), metavar="DIR",
                     help="where to create the package folder (default: here)")
    new.set_defaults(handler=_new)


async def _new(args: argparse.Namespace) -> int:
    root = await asyncio.to_thread(write_plugin, args.name, args.dir)
    print(f"wrote {root}")
    print(f"next: cd {root} && pip install -e '.[dev]' && pytest")
    return 0
