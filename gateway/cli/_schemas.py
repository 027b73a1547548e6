"""`lgsp schemas check`: parse every schema and gate breaking changes between versions."""

from __future__ import annotations

import argparse
from pathlib import Path

from gateway.cli._base import CommandParser
from gateway.contracts import SchemaRegistry, check_compatibility
from gateway.settings import load_settings


def register(sub: argparse._SubParsersAction[CommandParser]) -> None:
    """Add `lgsp schemas ...`."""
    schemas = sub.add_parser("schemas", help="check the Avro contracts in schemas/avro",
                             description="Work with the Avro contracts.")
    verbs = schemas.add_subparsers(dest="verb", metavar="VERB", required=True)
    check = verbs.add_parser(
        "check", help="parse every schema; fail on breaking changes between versions",
        description="Parse every <name>/v<N>.avsc and check that each version can read data "
        "written with every earlier version of the same schema (Apache Avro's "
        "reader/writer compatibility rules). Exit 0 when all hold; otherwise one line per "
        "breaking change and exit 1.",
    )
    check.add_argument("--dir", type=Path, default=None,
                       help="schema directory (env LGSP_SCHEMAS_DIR; default schemas/avro)")
    check.set_defaults(handler=_check)


async def _check(args: argparse.Namespace) -> int:
    directory: Path = args.dir or load_settings().schemas_dir
    breakages = check_compatibility(directory)
    if breakages:
        for breakage in breakages:
            print(f"BREAKING {breakage}")
        return 1
    registry = SchemaRegistry.load(directory)
    count = sum(len(registry.versions(n)) for n in registry.names())
    print(f"ok: {len(registry.names())} schemas, {count} versions, no breaking changes "
          f"in {directory}")
    return 0
