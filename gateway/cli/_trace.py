"""`lgsp trace TRANSACTION_ID`: one transaction's path, from ingestion to receipt."""

from __future__ import annotations

import argparse

from gateway.cli._auth import check_locally
from gateway.cli._base import CommandParser
from gateway.cli._index import add_index_options, opened
from gateway.cli._replay import connect, kafka_named, print_json
from gateway.cli._text import printable
from gateway.index import trace_from
from gateway.replay.filters import check_transaction_id
from gateway.trace import Tracer, trace_json, trace_lines


def register(sub: argparse._SubParsersAction[CommandParser]) -> None:
    """Add `lgsp trace`."""
    trace: CommandParser = sub.add_parser(
        "trace", help="show one transaction's path end to end",
        description="Show where a transaction has been: ingested (connector, topic, "
        "partition, offset, time), each forwarding attempt and its result, why it was "
        "dead-lettered, who replayed it and when, and the final outcome with the national "
        "receipt. Reads the transaction index (--index-url or LGSP_INDEX__URL); an id the "
        "index does not know yet is looked up in Kafka (--bootstrap-servers or "
        "LGSP_BOOTSTRAP_SERVERS). An unknown id prints one line and exits 1.")
    trace.add_argument("transaction_id", metavar="TRANSACTION_ID", type=_transaction_id,
                       help="the transaction id (also the Idempotency-Key sent to NDXP)")
    add_index_options(trace)
    trace.add_argument("--json", action="store_true", help="print JSON for machines")
    trace.set_defaults(handler=_trace)


def _transaction_id(text: str) -> str:
    try:
        return check_transaction_id(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


async def _trace(args: argparse.Namespace) -> int:
    conn = await connect(args, gated=False)
    await check_locally(args, conn.settings, "GET", "/transactions/{transaction_id}")
    tracer = Tracer(conn.settings.bootstrap_servers, conn.topics, conn.codec)
    async with opened(conn, args) as store:
        with kafka_named(conn.settings.bootstrap_servers):
            found, _source = await trace_from(store, tracer, conn.topics, args.transaction_id)
    if args.json:
        print_json(trace_json(found))
    else:
        print("\n".join(printable(line) for line in trace_lines(found)))
    return 0
