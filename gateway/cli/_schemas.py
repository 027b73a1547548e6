"""`lgsp schemas check|asyncapi`: gate breaking changes; describe the topics in AsyncAPI."""

from __future__ import annotations

import argparse
import asyncio
import os
from pathlib import Path

from gateway.cli._base import CommandParser
from gateway.contracts import check_compatibility, load_schemas, plugin_schema_sources
from gateway.docs import build_asyncapi, render_asyncapi
from gateway.errors import GatewayError
from gateway.settings import load_settings


def register(sub: argparse._SubParsersAction[CommandParser]) -> None:
    """Add `lgsp schemas ...`."""
    schemas = sub.add_parser("schemas",
                             help="check the Avro contracts; describe the topics (AsyncAPI)",
                             description="Work with the Avro contracts.")
    verbs = schemas.add_subparsers(dest="verb", metavar="VERB", required=True)
    check = verbs.add_parser(
        "check", help="parse every schema; fail on breaking changes between versions",
        description="Parse every <name>/v<N>.avsc of the gateway's schema directory and of "
        "every installed plugin package (entry-point group lgsp.schemas) and check that "
        "each version can read data written with every earlier version of the same schema "
        "(Apache Avro's reader/writer compatibility rules). Exit 0 when all hold; otherwise "
        "one line per breaking change and exit 1. Two packages shipping one schema name is "
        "an error.",
    )
    check.add_argument("--dir", type=Path, default=None,
                       help="the gateway's schema directory (env LGSP_SCHEMAS_DIR; default "
                       "schemas/avro); plugins' schemas are checked with it")
    check.set_defaults(handler=_check)
    asyncapi = verbs.add_parser(
        "asyncapi", help="print (or write) the AsyncAPI 3.0 document of the gateway's topics",
        description="Generate the AsyncAPI 3.0 document (JSON) of every Kafka topic the "
        "gateway uses, with every Avro schema version embedded, from the schema directory. "
        "docs/asyncapi.json is this command's output: regenerate it after a schema change "
        "with `lgsp schemas asyncapi --out docs/asyncapi.json`.",
    )
    asyncapi.add_argument("--dir", type=Path, default=None,
                          help="schema directory (env LGSP_SCHEMAS_DIR; default schemas/avro)")
    asyncapi.add_argument("--out", type=Path, default=None, metavar="FILE",
                          help="write the document to FILE instead of printing it")
    asyncapi.set_defaults(handler=_asyncapi)


async def _check(args: argparse.Namespace) -> int:
    directory: Path = args.dir or load_settings().schemas_dir
    registry = await asyncio.to_thread(load_schemas, directory)
    breakages = check_compatibility(registry)
    if breakages:
        for breakage in breakages:
            print(f"BREAKING {breakage}")
        return 1
    count = sum(len(registry.versions(n)) for n in registry.names())
    plugins = await asyncio.to_thread(plugin_schema_sources)
    also = "".join(f" and {source.owner} ({source.directory})" for source in plugins)
    print(f"ok: {len(registry.names())} schemas, {count} versions, no breaking changes "
          f"in {directory}{also}")
    return 0


async def _asyncapi(args: argparse.Namespace) -> int:
    directory: Path = args.dir or load_settings().schemas_dir
    registry = await asyncio.to_thread(load_schemas, directory)
    document = build_asyncapi(registry)
    text = render_asyncapi(document)
    if args.out is None:
        print(text, end="")
        return 0
    await asyncio.to_thread(_write_atomically, args.out, text)
    print(f"wrote {args.out}: AsyncAPI {document['asyncapi']}, "
          f"{len(document['channels'])} channels, "
          f"{len(document['components']['messages'])} messages, "
          f"{len(document['components']['schemas'])} schema versions")
    return 0


def _write_atomically(path: Path, text: str) -> None:
    # A temporary file renamed into place: an interrupted run never leaves half a document.
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        raise GatewayError(f"cannot write {path}: {exc.strerror or exc}") from exc
