"""`lgsp replay` and `lgsp replay history`: find failed transactions, replay them safely.

Primary path: Kafka directly (`--bootstrap-servers`, env LGSP_BOOTSTRAP_SERVERS), like
`lgsp run`. It works while the gateway is stopped or restarting, and the progress, the
rate and an interruption are those of this process: Ctrl-C or a kill stops the sending
for real, and running the same command again resumes. The gateway's admin API offers
the same engine over HTTP (`POST /replays`, `GET /replays`) for operators without
broker access.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import re
import socket
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import orjson
from rich import box
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from gateway.audit.event import AuditEvent, Result
from gateway.audit.trail import record_from_cli
from gateway.cli._auth import add_token_option, check_locally
from gateway.cli._base import CommandParser, add_config_option, settings_from
from gateway.cli._text import cell, printable
from gateway.contracts import Codec, load_gated_schemas, load_schemas
from gateway.errors import KafkaUnavailableError, ReplayError
from gateway.index import IndexSelector, open_store
from gateway.kafka import Producer
from gateway.replay import (
    MAX_RATE,
    AuditRecord,
    Replayer,
    ReplayFilter,
    ReplayListener,
    ReplayRequest,
    ReplayRun,
    Selection,
    format_age,
    masked,
    parse_rate,
    parse_time,
    read_audits,
)
from gateway.replay.filters import (
    check_connector,
    check_error_class,
    check_service,
    check_transaction_id,
)
from gateway.replay.models import CandidateModel, ReplayPreviewResponse, ReplayRunModel
from gateway.settings import Settings
from gateway.topics import Topics

EXIT_NOT_ALL_DELIVERED = 3
_OPERATOR = re.compile(r"^[^\x00-\x1f]{1,100}$")
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_DEFAULT_RATE = 50.0
_DEFAULT_WAIT_S = 60.0

_DESCRIPTION = """\
Replay transactions that ended in the dead-letter topic (the national side was down,
or refused the data and the cause is fixed now). Each transaction is re-submitted with
its own id, so the national side never sees it twice: the router asks it first whether
it already has the transaction.

Selection: each dead-lettered transaction's latest failure, if it matches every filter
given (none: all of them). Skipped, never re-sent: transactions the ledger shows
delivered, and those whose latest failure an earlier replay already re-submitted. So
running the same replay twice sends nothing the second time, and a replay stopped
half-way (Ctrl-C, killed) resumes where it stopped when run again.

Connects to Kafka directly (--bootstrap-servers or LGSP_BOOTSTRAP_SERVERS; topic prefix
LGSP_TOPIC_PREFIX). Every run, dry runs too, is written to the audit trail with the
operator's name: see `lgsp replay history`.

Exit status: 0 all replayed transactions delivered (or nothing left to replay),
1 error (nothing replayed), 2 bad arguments, 3 some failed again or are still pending
when --wait-s ran out, 130 interrupted (run again to resume)."""

_EPILOG = """\
examples:
  lgsp replay --from 2h --dry-run                 what failed in the last two hours
  lgsp replay --connector one-stop --error-class TransientForwardError --yes
  lgsp replay --id 5b6f0c1e-... --operator nguyen.van.an --yes
  lgsp replay history"""


def register(sub: argparse._SubParsersAction[CommandParser]) -> None:
    """Add `lgsp replay` and `lgsp replay history`."""
    replay: CommandParser = sub.add_parser(
        "replay", help="find failed (dead-lettered) transactions and replay them safely",
        description=_DESCRIPTION, epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    add_connection_options(replay)
    replay.add_argument("--index-url", default=None, metavar="URL",
                        help="the transaction index to select from (env LGSP_INDEX__URL; "
                        "default: SQLite under the state directory); the topics are "
                        "scanned instead while it lags behind them")
    chosen = replay.add_argument_group("selection (all given must match)")
    chosen.add_argument("--from", dest="failed_from", type=_time, default=None, metavar="TIME",
                        help="failed at or after TIME: ISO-8601 (2026-11-02T08:00, local "
                        "time unless a zone is given) or an age: 30m, 2h, 3d")
    chosen.add_argument("--to", dest="failed_to", type=_time, default=None, metavar="TIME",
                        help="failed before TIME (same forms)")
    chosen.add_argument("--connector", action="append", type=_arg(check_connector),
                        default=[], metavar="NAME", help="connector name (repeatable)")
    chosen.add_argument("--service", action="append", type=_arg(check_service), default=[],
                        metavar="CODE", help="national service code, e.g. "
                        "QG.DVCQG.DONGBOHOSO (repeatable)")
    chosen.add_argument("--error-class", action="append", type=_arg(check_error_class),
                        default=[], metavar="NAME", help="error class, short "
                        "(TransientForwardError) or full (repeatable)")
    chosen.add_argument("--id", dest="ids", action="extend", nargs="+",
                        type=_arg(check_transaction_id), default=[], metavar="TX_ID",
                        help="transaction id(s); an id with no dead-letter record is an error")
    how = replay.add_argument_group("how")
    how.add_argument("--dry-run", action="store_true",
                     help="only list what would be replayed (id, connector, service, error, "
                     "attempts, age); nothing is sent (the dry run is audited)")
    how.add_argument("--rate", type=_rate, default=_DEFAULT_RATE, metavar="N/s",
                     help=f"re-submissions per second (default {_DEFAULT_RATE:g}/s, "
                     f"at most {MAX_RATE:g})")
    how.add_argument("--operator", type=_operator, default=None, metavar="NAME",
                     help="the person a shared token acts for; the audit trail records the "
                     "token's subject, then `for NAME`")
    how.add_argument("--yes", "-y", action="store_true",
                     help="do not ask for confirmation (required without a terminal)")
    how.add_argument("--wait-s", type=_seconds, default=_DEFAULT_WAIT_S, metavar="S",
                     help="wait at most S seconds for the router's outcomes (default "
                     f"{_DEFAULT_WAIT_S:g}; 0: do not wait)")
    how.add_argument("--limit", type=_count, default=100, metavar="N",
                     help="rows of the dry-run table (default 100; 0: all)")
    how.add_argument("--json", action="store_true", help="print JSON instead of tables")
    replay.set_defaults(handler=_replay)

    verbs = replay.add_subparsers(dest="verb", metavar="[history]", required=False)
    history: CommandParser = verbs.add_parser(
        "history", help="list replay runs from the audit trail (table)",
        description="List replay runs, newest first: who ran them, when, with which "
        "filter, and what they did. Dry runs are listed too.")
    add_connection_options(history)
    history.add_argument("--limit", type=_count, default=20, metavar="N",
                         help="how many runs (default 20; 0: all)")
    history.add_argument("--json", action="store_true", help="print JSON instead of a table")
    history.set_defaults(handler=_history)


# --- shared with `lgsp trace` -------------------------------------------------------------

def add_connection_options(parser: argparse.ArgumentParser, *, token: bool = True) -> None:
    """`--bootstrap-servers`, `--config` and (unless `token` is False) `--token`."""
    parser.add_argument("--bootstrap-servers", default=None, metavar="HOST:PORT",
                        help="Kafka bootstrap servers (env LGSP_BOOTSTRAP_SERVERS, "
                        "default 127.0.0.1:9092)")
    add_config_option(parser)
    if token:
        add_token_option(parser)


@dataclass(frozen=True, slots=True)
class Connection:
    """What a Kafka-direct command needs: settings, topic names, the Avro codec."""

    settings: Settings
    topics: Topics
    codec: Codec


async def connect(args: argparse.Namespace, *, gated: bool = True) -> Connection:
    """Settings from options and environment, and the schemas (read off the loop).

    `gated`: refuse schemas with a breaking change (replay writes); a reader (trace)
    takes them as they are, so a broken deployment can still be looked into.
    """
    settings = settings_from(args, bootstrap_servers=args.bootstrap_servers)
    load = load_gated_schemas if gated else load_schemas
    registry = await asyncio.to_thread(load, settings.schemas_dir)
    return Connection(settings, Topics(settings.topic_prefix), Codec(registry))


@contextlib.contextmanager
def kafka_named(bootstrap_servers: str) -> Iterator[None]:
    """Name the broker and how to change it when Kafka cannot be reached."""
    try:
        yield
    except KafkaUnavailableError as exc:
        raise KafkaUnavailableError(
            f"cannot reach Kafka at {bootstrap_servers} (--bootstrap-servers or "
            f"LGSP_BOOTSTRAP_SERVERS): {exc}") from exc


def console() -> Console:
    """A console for stdout: colours only on a terminal; wide enough for ids in logs."""
    out = Console(highlight=False)
    if not out.is_terminal:
        out = Console(highlight=False, no_color=True, width=max(out.width, 160))
    return out


def print_json(value: object) -> None:
    """JSON on stdout, indented."""
    print(orjson.dumps(value, option=orjson.OPT_INDENT_2).decode())


# --- argument types (one-line usage errors, exit 2) -----------------------------------------

def _arg(check: Callable[[str], str]) -> Callable[[str], str]:
    def parse(text: str) -> str:
        try:
            return check(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
    return parse


def _time(text: str) -> datetime:
    try:
        return parse_time(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _rate(text: str) -> float:
    try:
        return parse_rate(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _operator(text: str) -> str:
    if not _OPERATOR.fullmatch(text.strip()):
        raise argparse.ArgumentTypeError("an operator name is 1-100 printable characters")
    return text.strip()


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0 <= value <= 86_400:
        raise argparse.ArgumentTypeError(f"{text} must be from 0 to 86400 seconds")
    return value


def _count(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number (0 or more)")
    return int(text)


# --- lgsp replay ------------------------------------------------------------------------------

async def _replay(args: argparse.Namespace) -> int:
    flt = ReplayFilter.create(
        failed_from=args.failed_from, failed_to=args.failed_to, connectors=args.connector,
        services=args.service, error_classes=args.error_class, transaction_ids=args.ids)
    conn = await connect(args)
    subject = (await check_locally(args, conn.settings, "POST", "/replays")).subject
    operator = subject if args.operator in (None, subject) else f"{subject} for {args.operator}"
    request = ReplayRequest(
        filter=flt, operator=operator, origin=f"cli@{socket.gethostname()}", rate=args.rate,
        wait_s=args.wait_s, dry_run=args.dry_run)
    out = console()
    with kafka_named(conn.settings.bootstrap_servers):
        return await _replay_with(out, conn, request, args)


async def _replay_with(out: Console, conn: Connection, request: ReplayRequest,
                       args: argparse.Namespace) -> int:
    producer = Producer(conn.settings.bootstrap_servers, client_id="lgsp-replay")
    await producer.start()
    store = await open_store(conn.settings, conn.topics, url=args.index_url)
    try:
        # Selected from the index once it has caught up with the topics, else by a scan.
        selector = IndexSelector(store, conn.settings.bootstrap_servers, conn.topics,
                                 conn.codec,
                                 catch_up_timeout_s=conn.settings.index.catch_up_timeout_s)
        replayer = Replayer(conn.settings.bootstrap_servers, conn.topics, conn.codec, producer,
                            selector=selector.select)
        selection = await replayer.select(request.filter)
        if request.dry_run:
            run = await replayer.dry_run(request, selection)
            await _audit(conn, run, "dry run")
            _show_dry_run(out, run, selection, args)
            return 0
        if selection.eligible and not args.yes:
            await _confirm(out, selection)
        run = replayer.prepare(request, selection)
        # On record before anything is re-submitted: no audit, no replay.
        await _audit(conn, run, f"{len(selection.eligible)} selected")
        return await _execute(out, replayer, run, args.json)
    finally:
        await store.close()
        await producer.stop()


async def _audit(conn: Connection, run: ReplayRun, detail: str) -> None:
    await record_from_cli(conn.settings, AuditEvent(
        subject=run.request.operator, action="replay.start", target=f"replay {run.replay_id}",
        client=run.request.origin, result=Result.SUCCESS, detail=detail))


async def _confirm(out: Console, selection: Selection) -> None:
    count = len(selection.eligible)
    if not sys.stdin.isatty():
        raise ReplayError(f"{count} transactions selected; add --yes to replay them "
                          "(no terminal to ask for confirmation); nothing replayed")
    _show_reasons(out, selection)
    answer = await _ask(f"Replay {count} transactions? [y/N] ")
    if answer.strip().lower() not in ("y", "yes"):
        raise ReplayError("not confirmed; nothing replayed")


async def _ask(prompt: str) -> str:
    """One line from the terminal, read by the event loop.

    Not `input()` in a thread: a thread blocked in `input()` cannot be cancelled, so
    Ctrl-C at the prompt would hang until Enter. A terminal in line mode reports the fd
    readable once a whole line (or end of input) is there, so `readline` returns at once.
    """
    print(prompt, end="", flush=True)
    loop = asyncio.get_running_loop()
    answered: asyncio.Future[str] = loop.create_future()

    def readable() -> None:
        if not answered.done():
            answered.set_result(sys.stdin.readline())  # "" at end of input: no answer

    fd = sys.stdin.fileno()
    loop.add_reader(fd, readable)
    try:
        return await answered
    finally:
        loop.remove_reader(fd)


async def _execute(out: Console, replayer: Replayer, run: ReplayRun, as_json: bool) -> int:
    total = len(run.selection.eligible)
    if total:
        print(f"replay {run.replay_id}: re-submitting {total} transactions at "
              f"{run.request.rate:g}/s", flush=True)
    listener = _ProgressListener(out, total)
    try:
        with listener.progress:
            await replayer.execute(run, listener)
    except asyncio.CancelledError:
        print(f"replay {run.replay_id}: interrupted after re-submitting {run.replayed} of "
              f"{total}; run the same command again to resume", flush=True)
        raise
    if as_json:
        print_json(ReplayRunModel.of(run.audit_record()).model_dump(mode="json"))
    else:
        print(_nothing_left(run) if not total else run.summary(), flush=True)
    if run.tally.failed_again or (run.waited and run.pending):
        return EXIT_NOT_ALL_DELIVERED
    return 0


def _nothing_left(run: ReplayRun) -> str:
    sel = run.selection
    parts = [f"{len(sel.already_delivered)} already delivered"]
    if sel.already_submitted:
        replays = sorted({r for r in sel.already_submitted.values() if r})
        parts.append(f"{len(sel.already_submitted)} already re-submitted by "
                     f"{', '.join(replays[:3]) or 'an earlier replay'} and awaiting the router")
    return (f"replay {run.replay_id}: nothing to replay: {sel.matched} matched, "
            + ", ".join(parts))


class _RateColumn(ProgressColumn):
    """Re-submissions per second, as measured."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{speed:.1f}/s" if speed else "-/s")


class _ProgressListener(ReplayListener):
    """Draws the progress bar (rate, ETA) on a terminal; silent otherwise."""

    def __init__(self, out: Console, total: int) -> None:
        # Refreshed from the callbacks, not by rich's refresh thread: nothing but the
        # event loop touches the terminal.
        self.progress = Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
            _RateColumn(), TextColumn("ETA"), TimeRemainingColumn(), console=out,
            auto_refresh=False, disable=not out.is_terminal or total == 0, transient=False)
        self._task: TaskID = self.progress.add_task("re-submitting", total=total)
        self._outcomes: TaskID | None = None

    def submitted(self, run: ReplayRun, transaction_id: str) -> None:
        self.progress.update(self._task, advance=1, refresh=True)

    def waiting(self, run: ReplayRun) -> None:
        self._outcomes = self.progress.add_task("outcomes", total=run.replayed)
        self.progress.refresh()

    def outcomes(self, run: ReplayRun) -> None:
        if self._outcomes is not None:
            done = len(run.tally.delivered) + len(run.tally.failed_again)
            self.progress.update(
                self._outcomes, completed=done, refresh=True,
                description=f"delivered {len(run.tally.delivered)}, failed again "
                            f"{len(run.tally.failed_again)}")


def _show_dry_run(out: Console, run: ReplayRun, selection: Selection,
                  args: argparse.Namespace) -> None:
    if args.json:
        print_json(ReplayPreviewResponse(
            replay=ReplayRunModel.of(run.audit_record()),
            candidates=[CandidateModel.of(d, masked(d.message)) for d in selection.eligible],
            already_delivered=sorted(selection.already_delivered),
            already_submitted=dict(sorted(selection.already_submitted.items())),
        ).model_dump(mode="json"))
        return
    rows = selection.eligible if args.limit == 0 else selection.eligible[:args.limit]
    if rows:
        table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
        table.add_column("TRANSACTION", no_wrap=True, min_width=36)
        for name in ("CONNECTOR", "SERVICE", "ERROR"):
            table.add_column(name, no_wrap=True)
        table.add_column("ATTEMPTS", justify="right")
        table.add_column("AGE", justify="right")
        now_ms = datetime.now(UTC).timestamp() * 1000
        for dead in rows:
            table.add_row(*(cell(c) for c in (
                dead.transaction_id, dead.connector, dead.service, dead.error_short,
                str(dead.attempts), format_age((now_ms - dead.timestamp_ms) / 1000))))
        out.print(table)
        if len(rows) < len(selection.eligible):
            print(f"... and {len(selection.eligible) - len(rows)} more (--limit 0 lists all)")
        _show_reasons(out, selection)
    print(f"dry run {run.replay_id}: {len(selection.eligible)} to replay"
          f" ({selection.matched} matched the filter, {len(selection.already_delivered)} "
          f"already delivered, {len(selection.already_submitted)} already re-submitted); "
          "nothing sent", flush=True)


def _show_reasons(out: Console, selection: Selection) -> None:
    """Why they failed, grouped: what a non-specialist needs to fix the cause first."""
    reasons = Counter((d.error_short, masked(_gist(d.message))) for d in selection.eligible)
    out.print("why they failed:")
    for (error, message), count in reasons.most_common(10):
        out.print(printable(f"  {count:>6}  {error}: {message}"), markup=False,
                  highlight=False)


def _gist(message: str) -> str:
    # Ids and numbers make every message unique; the gist groups them.
    return _UUID.sub("<id>", message)[:160]


# --- lgsp replay history ------------------------------------------------------------------------

async def _history(args: argparse.Namespace) -> int:
    conn = await connect(args)
    await check_locally(args, conn.settings, "GET", "/replays")
    with kafka_named(conn.settings.bootstrap_servers):
        records = await read_audits(conn.settings.bootstrap_servers, conn.topics.replay_audit,
                                    conn.codec)
    runs = sorted(records.values(), key=lambda r: r.started_at, reverse=True)
    if args.limit:
        runs = runs[:args.limit]
    if args.json:
        print_json([ReplayRunModel.of(r).model_dump(mode="json") for r in runs])
        return 0
    if not runs:
        print(f"no replay runs recorded in {conn.topics.replay_audit}")
        return 0
    out = console()
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    for name in ("REPLAY", "STARTED", "OPERATOR", "STATUS", "FILTER"):
        table.add_column(name, no_wrap=name != "FILTER")
    for name in ("MATCHED", "REPLAYED", "DELIVERED", "FAILED", "SKIPPED"):
        table.add_column(name, justify="right")
    for record in runs:
        table.add_row(*(cell(c) for c in _history_row(record)))
    out.print(table)
    return 0


def _history_row(record: AuditRecord) -> list[str]:
    status = record.status.value
    if status == "STARTED":
        status = "STARTED (running, or killed)"
    return [
        record.replay_id,
        record.started_at.astimezone().strftime("%Y-%m-%d %H:%M:%S"),
        record.operator,
        status,
        record.filter.describe(),
        str(record.matched),
        "-" if record.dry_run else str(record.replayed),
        "-" if record.dry_run else str(record.delivered),
        "-" if record.dry_run else str(record.failed_again),
        str(record.skipped_delivered + record.skipped_submitted),
    ]
