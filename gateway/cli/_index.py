"""`lgsp index rebuild|status`, `lgsp transactions find`, `lgsp services`: the index.

These open the index store directly (`--index-url`, env LGSP_INDEX__URL; default the
SQLite file under the state directory), like `lgsp replay` reads Kafka directly, so
they answer while the gateway is stopped.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

from rich import box
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from gateway.cli._base import CommandParser
from gateway.cli._replay import (
    Connection,
    add_connection_options,
    connect,
    console,
    kafka_named,
    print_json,
)
from gateway.errors import ConfigError
from gateway.index import IndexStore, RebuildProgress, open_store, rebuild
from gateway.index.models import ServiceHealthModel, TransactionModel
from gateway.index.queries import MAX_LIMIT, OUTCOMES, encode_cursor, transaction_query
from gateway.replay import masked


def add_index_options(parser: argparse.ArgumentParser) -> None:
    """`--index-url` beside the Kafka connection options."""
    add_connection_options(parser, token=False)
    parser.add_argument("--index-url", default=None, metavar="URL",
                        help="the index store: sqlite:///PATH or postgresql://USER@HOST/DB "
                        "(env LGSP_INDEX__URL; default: SQLite under the state directory)")


@asynccontextmanager
async def opened(conn: Connection, args: argparse.Namespace) -> AsyncIterator[IndexStore]:
    """The index store, closed afterwards."""
    store = await open_store(conn.settings, conn.topics, url=args.index_url)
    try:
        yield store
    finally:
        await store.close()


def register(sub: argparse._SubParsersAction[CommandParser]) -> None:
    """Add `lgsp index`, `lgsp transactions` and `lgsp services`."""
    index: CommandParser = sub.add_parser(
        "index", help="the transaction index: rebuild it from the topics, or its status",
        description="The transaction index is a projection of the gateway's topics "
        "(connector topics, ledger, dead letters, replays). The gateway keeps it up to date; "
        "`rebuild` empties it and reads every retained record again.")
    verbs = index.add_subparsers(dest="verb", metavar="VERB", required=True)
    rebuild_cmd: CommandParser = verbs.add_parser(
        "rebuild", help="drop the index and rebuild it from the topics (progress bar)",
        description="Empty the index and rebuild it from every retained record of the "
        "gateway's topics. A running gateway's indexer notices and continues from the "
        "rebuilt positions.")
    add_index_options(rebuild_cmd)
    rebuild_cmd.add_argument("--yes", "-y", action="store_true",
                             help="do not ask (the index is emptied first)")
    rebuild_cmd.set_defaults(handler=_rebuild)
    status: CommandParser = verbs.add_parser(
        "status", help="the store, its schema version and how many transactions it holds")
    add_index_options(status)
    status.add_argument("--json", action="store_true", help="print JSON for machines")
    status.set_defaults(handler=_status)

    tx: CommandParser = sub.add_parser(
        "transactions", help="find transactions in the index",
        description="Query the transaction index.")
    tx_verbs = tx.add_subparsers(dest="verb", metavar="VERB", required=True)
    find: CommandParser = tx_verbs.add_parser(
        "find", help="list transactions matching every filter given, newest first",
        description="List transactions from the index, newest first. Every filter given "
        "must match. --cursor continues after the last row of a previous page (printed "
        "when there are more).")
    add_index_options(find)
    find.add_argument("--business-key", default=None, metavar="KEY",
                      help="dossier code, document id or report id")
    find.add_argument("--service", default=None, metavar="CODE",
                      help="national service code, e.g. QG.DVCQG.DONGBOHOSO")
    find.add_argument("--outcome", default=None, metavar="OUTCOME",
                      help=f"one of {', '.join(OUTCOMES)}")
    find.add_argument("--since", default=None, metavar="TIME",
                      help="ingested at or after TIME: ISO-8601 or an age (30m, 2h, 3d)")
    find.add_argument("--until", default=None, metavar="TIME", help="ingested before TIME")
    find.add_argument("--limit", default="50", metavar="N",
                      help=f"rows (1-{MAX_LIMIT}, default 50)")
    find.add_argument("--cursor", default=None, metavar="TOKEN",
                      help="continue after a previous page (its 'next page' token)")
    find.add_argument("--json", action="store_true", help="print JSON for machines")
    find.set_defaults(handler=_find)

    services: CommandParser = sub.add_parser(
        "services", help="health of each national service (from the index)",
        description="Per national service, in the manner of X-Road's health data: "
        "successes and failures in the last period (index.health_period_s, default one "
        "hour), last success and last failure, request duration min/avg/max.")
    add_index_options(services)
    services.add_argument("--json", action="store_true", help="print JSON for machines")
    services.set_defaults(handler=_services)


def _local(moment: datetime | None) -> str:
    return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S") if moment else "-"


async def _rebuild(args: argparse.Namespace) -> int:
    conn = await connect(args)
    out = console()
    async with opened(conn, args) as store:
        if not args.yes:
            raise ConfigError(f"this empties the index at {store.where} and rebuilds it from "
                              "the topics; add --yes to go ahead")
        progress = Progress(TextColumn("rebuilding"), BarColumn(), MofNCompleteColumn(),
                            TextColumn("{task.fields[rate]}"), TimeRemainingColumn(),
                            console=out, auto_refresh=False, disable=not out.is_terminal)
        task = progress.add_task("rebuild", total=None, rate="")

        def show(p: RebuildProgress) -> None:
            progress.update(task, total=p.total, completed=p.done, refresh=True,
                            rate=f"{p.per_second:,.0f} records/s")

        began = time.perf_counter()
        with progress, kafka_named(conn.settings.bootstrap_servers):
            result = await rebuild(store, conn.settings.bootstrap_servers, conn.topics,
                                   conn.codec, batch_size=max(conn.settings.index.batch_size,
                                                              5000), on_progress=show)
        seconds = time.perf_counter() - began
    print(f"index rebuilt at {store.where}: {result.done:,} records, "
          f"{result.transactions:,} transactions in {seconds:.1f} s "
          f"({result.per_second:,.0f} records/s)")
    return 0


async def _status(args: argparse.Namespace) -> int:
    conn = await connect(args)
    async with opened(conn, args) as store:
        data = {"store": store.where, "schema_version": await store.schema_version(),
                "generation": await store.generation(), "transactions": await store.count(),
                "partitions": len(await store.positions())}
    if args.json:
        print_json(data)
    else:
        print(f"index {data['store']}: schema version {data['schema_version']}, "
              f"{data['transactions']:,} transactions, {data['partitions']} partitions read")
    return 0


async def _find(args: argparse.Namespace) -> int:
    query = transaction_query(business_key=args.business_key, service=args.service,
                              outcome=args.outcome, since=args.since, until=args.until,
                              limit=args.limit, cursor=args.cursor)
    conn = await connect(args)
    async with opened(conn, args) as store:
        page = await store.find(query)
    cursor = encode_cursor(page.next_after) if page.next_after else None
    rows = [TransactionModel.of(s) for s in page.rows]
    if args.json:
        print_json({"transactions": [r.model_dump(mode="json") for r in rows],
                    "next_cursor": cursor})
        return 0
    if not rows:
        print("no transaction matches")
        return 0
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    for name in ("TRANSACTION", "AT", "BUSINESS KEY", "SERVICE", "STATUS", "ATTEMPTS",
                 "LAST ERROR"):
        table.add_column(name, no_wrap=name != "LAST ERROR",
                         justify="right" if name == "ATTEMPTS" else "left")
    for r in rows:
        error = f"{(r.last_error_class or '').rpartition('.')[2]}: " \
                f"{masked(r.last_error_message)[:60]}" if r.last_error_class else ""
        # Text, not markup: a business key or error message is data, never styling.
        table.add_row(*(Text(cell) for cell in (
            r.transaction_id, _local(r.at), r.business_key or "-", r.service or "-", r.status,
            str(r.attempts), error)))
    console().print(table)
    if cursor:
        print(f"more: --cursor {cursor}")
    return 0


async def _services(args: argparse.Namespace) -> int:
    conn = await connect(args)
    period = conn.settings.index.health_period_s
    async with opened(conn, args) as store:
        health = await store.services(int(datetime.now(UTC).timestamp() * 1000), period)
    rows = [ServiceHealthModel.of(h) for h in health]
    if args.json:
        print_json({"period_s": period, "services": [r.model_dump(mode="json") for r in rows]})
        return 0
    if not rows:
        print("no outcomes in the index yet")
        return 0
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    for name in ("SERVICE", "OK", "FAILED", "LAST SUCCESS", "LAST FAILURE", "MIN MS",
                 "AVG MS", "MAX MS"):
        table.add_column(name, no_wrap=True,
                         justify="left" if name in ("SERVICE", "LAST SUCCESS",
                                                    "LAST FAILURE") else "right")

    def ms(value: float | None) -> str:
        return "-" if value is None else f"{value:,.1f}"

    for r in rows:
        table.add_row(*(Text(cell) for cell in (
            r.service, str(r.successes), str(r.failures), _local(r.last_success_at),
            _local(r.last_failure_at), ms(r.duration_min_ms), ms(r.duration_avg_ms),
            ms(r.duration_max_ms))))
    print(f"last {period // 60} minutes:")
    console().print(table)
    return 0
