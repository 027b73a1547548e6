"""`lgsp import FILE... --type TYPE`: a merged province's exported records onto Kafka.

Each file is read, every record validated against its message type's Avro schema, and
the valid ones published at full speed to the import's source topic (`lgsp.src.import`
by default), where the router forwards them like any connector's. Refused records go to
`<FILE>.rejected.jsonl` with line, field and reason; `<FILE>.checkpoint.json` records
how far the import got, so after Ctrl-C or a crash the same command resumes and
publishes no record twice.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import socket
import time
from pathlib import Path

from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)

from gateway.audit.event import AuditEvent, Result
from gateway.audit.trail import record_from_cli
from gateway.cli._auth import check_locally
from gateway.cli._base import CommandParser
from gateway.cli._replay import Connection, add_connection_options, connect, console, kafka_named
from gateway.connect.discovery import discover_plugins
from gateway.contracts import is_agency_code
from gateway.errors import ConfigError
from gateway.importer import (
    FORMATS,
    Checkpoint,
    FileImport,
    Format,
    ImportListener,
    ImportResult,
    RecordShape,
    RunIdentity,
    format_of,
    shape_for,
)
from gateway.kafka import KafkaAdmin, Producer, TopicReader, TopicSpec
from gateway.ndxp.catalogue import catalogue_from
from gateway.router.routing import RoutingTable, with_plugin_routes

EXIT_REJECTED = 3
_CONNECTOR = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
_NOT_PAYLOADS = frozenset({"envelope", "ledger.outcome", "gateway.audit", "replay.audit"})
_PARTITIONS = 3

_DESCRIPTION = """\
Import a merged province's exported records (e.g. Bac Lieu's history into Ca Mau's
gateway): JSON Lines or CSV of one message type, gzip allowed. Every record is checked
against the message type's Avro schema; valid ones are published, as the connector of
that system would publish them, to the topic lgsp.src.<connector> (--connector, default
`import`) for the router to forward to the national service the routing table names.

Beside each FILE: FILE.rejected.jsonl lists refused records (line, field, reason, the
record) and FILE.checkpoint.json how far the import got. Interrupted (Ctrl-C, a crash,
a lost broker), the same command resumes where it stopped: what was already published
is read back from the topic and never published twice. Each record's transaction id is
derived from its content, so importing the same record again (another file, CSV instead
of JSON Lines) gives the national side an id it already has.

CSV: a header row; dotted columns (applicant.full_name) fill nested records; a cell of
an array field holds JSON. Times: ISO 8601 with a zone offset, or epoch milliseconds.

Exit status: 0 every record imported, 1 error (run again to resume), 2 bad arguments,
3 imported, but some records were rejected, 130 interrupted (run again to resume)."""

_EPILOG = """\
examples:
  lgsp import baclieu-dossiers.jsonl.gz --type onestop.dossier_event --agency 000.00.00.H09
  lgsp import docs-2024.csv docs-2025.csv --type ioffice.document
  lgsp import reports.jsonl --type reporting.report_submission --source-system bl-reporting"""


def register(sub: argparse._SubParsersAction[CommandParser]) -> None:
    """Add `lgsp import`."""
    parser = sub.add_parser(
        "import", help="import exported records (JSON Lines or CSV, gzip) of a merged province",
        description=_DESCRIPTION, epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("files", nargs="+", type=_input_file, metavar="FILE",
                        help="export file(s), .jsonl or .csv, optionally .gz")
    parser.add_argument("--type", dest="message_type", required=True, metavar="MESSAGE_TYPE",
                        help="message type of every record, e.g. onestop.dossier_event")
    parser.add_argument("--format", choices=FORMATS, default=None,
                        help="file format (default: from the file name)")
    parser.add_argument("--source-system", type=_word, default=None, metavar="NAME",
                        help="source system on the envelope (default: the built-in "
                        "connector's, e.g. one-stop; routes may depend on it)")
    parser.add_argument("--agency", type=_agency, default=None, metavar="CODE",
                        help="agency code of the records' origin (default LGSP_AGENCY_CODE)")
    parser.add_argument("--connector", type=_connector, default="import", metavar="NAME",
                        help="connector name on the envelope; the topic is "
                        "<prefix>src.<NAME> (default: import)")
    parser.add_argument("--service", type=_word, default=None, metavar="CODE",
                        help="national service for every record (default: the routing table)")
    parser.add_argument("--business-key", default=None, metavar="FIELD",
                        help="field (dotted path) that keys and orders the records "
                        "(required for message types without a built-in connector)")
    parser.add_argument("--occurred-at", default=None, metavar="FIELD",
                        help="timestamp field that dates each record (same)")
    add_connection_options(parser)
    parser.set_defaults(handler=_import)


def _input_file(text: str) -> Path:
    path = Path(text)
    if not path.exists():
        raise argparse.ArgumentTypeError(f"no such file: {text}")
    if not path.is_file():
        raise argparse.ArgumentTypeError(f"not a file: {text}")
    return path


def _word(text: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,99}", text):
        raise argparse.ArgumentTypeError(f"{text!r}: letters, digits and . _ : - only")
    return text


def _agency(text: str) -> str:
    if not is_agency_code(text):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an agency code (dot-separated groups of digits and capital "
            "letters, e.g. 000.00.00.H41)")
    return text


def _connector(text: str) -> str:
    if not _CONNECTOR.fullmatch(text):
        raise argparse.ArgumentTypeError(f"{text!r} is not a connector name (letters, "
                                         "digits and . _ -, at most 100)")
    return text


async def _import(args: argparse.Namespace) -> int:
    conn = await connect(args)
    shape = _shape(args, conn)
    run = _run_identity(args, conn, shape)
    files = [(path, format_of(path, args.format)) for path in args.files]
    await _check_route(conn, run)
    principal = await check_locally(args, conn.settings, "POST", "/imports")
    out = console()
    with kafka_named(conn.settings.bootstrap_servers):
        await record_from_cli(conn.settings, AuditEvent(
            subject=principal.subject, action="import.start", target=f"topic {run.topic}",
            client=f"cli@{socket.gethostname()}", result=Result.SUCCESS,
            detail=f"{run.message_type} from {', '.join(p.name for p, _ in files)}"))
        return await _import_files(out, conn, shape, run, files)


def _shape(args: argparse.Namespace, conn: Connection) -> RecordShape:
    registry = conn.codec.registry
    if args.message_type in _NOT_PAYLOADS or not registry.versions(args.message_type):
        known = [n for n in registry.names() if n not in _NOT_PAYLOADS]
        raise ConfigError(f"unknown message type {args.message_type!r}; the schemas know "
                          f"{', '.join(known)}")
    return shape_for(args.message_type, business_key=args.business_key,
                     occurred_at=args.occurred_at)


def _run_identity(args: argparse.Namespace, conn: Connection, shape: RecordShape
                  ) -> RunIdentity:
    source_system = args.source_system or shape.source_system
    if source_system is None:
        raise ConfigError(f"message type {shape.message_type!r} has no built-in source "
                          "system: give --source-system NAME")
    agency: str = args.agency or conn.settings.agency_code
    if not is_agency_code(agency):
        raise ConfigError(f"LGSP_AGENCY_CODE {agency!r} is not an agency code; give --agency")
    topic = conn.topics.source(args.connector)
    if conn.topics.is_reserved(topic):
        raise ConfigError(f"--connector {args.connector}: {topic} is one of the gateway's "
                          "own topics")
    return RunIdentity(message_type=shape.message_type, topic=topic,
                       source_system=source_system, agency=agency,
                       connector=args.connector, service=args.service)


async def _check_route(conn: Connection, run: RunIdentity) -> None:
    # Refused before anything is published: otherwise every record would dead-letter.
    plugins = await asyncio.to_thread(discover_plugins)
    router = with_plugin_routes(conn.settings.router, plugins.default_routes())
    service = RoutingTable(router.routes).resolve(run.message_type, run.source_system,
                                                  run.service)
    if catalogue_from(conn.settings.catalogue).find(service) is None:
        raise ConfigError(f"national service {service!r} is not in the catalogue (add it "
                          "under catalogue.services); the router would dead-letter every record")


async def _import_files(out: Console, conn: Connection, shape: RecordShape, run: RunIdentity,
                        files: list[tuple[Path, Format]]) -> int:
    bootstrap = conn.settings.bootstrap_servers
    admin = KafkaAdmin(bootstrap, client_id="lgsp-import")
    await admin.start()
    try:
        await admin.ensure_topics([TopicSpec(run.topic, _PARTITIONS)])
    finally:
        await admin.stop()
    # Full speed: larger batches and a little linger than the gateway's latency-minded ones.
    producer = Producer(bootstrap, client_id="lgsp-import", linger_ms=20,
                        max_batch_size=512 * 1024)
    reader = TopicReader(bootstrap, client_id="lgsp-import")
    await producer.start()
    try:
        await reader.start()
        try:
            results = []
            for path, fmt in files:
                job = FileImport(path, fmt, shape=shape, run=run, codec=conn.codec,
                                 producer=producer, reader=reader)
                results.append(await _one(out, job))
        finally:
            await reader.stop()
    finally:
        await producer.stop()
    if len(results) > 1:
        print(_total_line(results), flush=True)
    return EXIT_REJECTED if any(r.total_rejected for r in results) else 0


async def _one(out: Console, job: FileImport) -> ImportResult:
    listener = _ProgressBar(out)
    try:
        with listener.bar:
            result = await job.run(listener)
    except asyncio.CancelledError:
        print(f"{job.path}: interrupted after record {listener.done_through} "
              f"({listener.published} published); run the same command again to resume",
              flush=True)
        raise
    print(_summary_line(result), flush=True)
    return result


def _summary_line(r: ImportResult) -> str:
    if r.already_finished:
        return (f"{r.path}: already imported ({r.total_published} published, "
                f"{r.total_rejected} rejected); nothing to do")
    rate = r.published / r.seconds if r.seconds > 0 else 0.0
    parts = [f"{r.path}: published {r.published}", f"rejected {r.rejected}"]
    if r.skipped:
        parts.append(f"skipped {r.skipped} already on the topic")
    if r.resumed_at:
        parts.append(f"resumed after record {r.resumed_at}")
    line = ", ".join(parts) + f" in {r.seconds:.1f}s ({rate:,.0f} records/s)"
    if r.rejects_path is not None:
        line += f"; rejected records and reasons in {r.rejects_path}"
    return line


def _total_line(results: list[ImportResult]) -> str:
    published = sum(r.published for r in results)
    rejected = sum(r.rejected for r in results)
    seconds = sum(r.seconds for r in results)
    return (f"total: {len(results)} files, published {published}, rejected {rejected} in "
            f"{seconds:.1f}s")


class _ProgressBar(ImportListener):
    """A progress bar over the file's bytes, with records and their rate; only on a tty."""

    def __init__(self, out: Console) -> None:
        self.bar = Progress(
            TextColumn("{task.description}"), BarColumn(),
            TextColumn("{task.percentage:>3.0f}%"),
            TextColumn("{task.fields[records]}"), TimeRemainingColumn(),
            console=out, auto_refresh=False, disable=not out.is_terminal, transient=False)
        self._task: TaskID | None = None
        self._started = time.monotonic()
        self._resumed_at = 0
        self.done_through = 0
        self.published = 0

    def started(self, path: Path, size: int, resumed_at: int) -> None:
        self.done_through = self._resumed_at = resumed_at
        self._started = time.monotonic()
        label = path.name if len(path.name) <= 40 else "..." + path.name[-37:]
        self._task = self.bar.add_task(label, total=max(size, 1), records="")
        self.bar.refresh()

    def progress(self, position: int, checkpoint: Checkpoint) -> None:
        self.done_through = checkpoint.done_through
        self.published = checkpoint.published
        if self._task is not None:
            elapsed = time.monotonic() - self._started
            handled = checkpoint.done_through - self._resumed_at
            rate = handled / elapsed if elapsed > 0 else 0.0
            self.bar.update(
                self._task, completed=position, refresh=True,
                records=f"{checkpoint.published:,} published, {checkpoint.rejected:,} rejected,"
                f" {rate:,.0f} records/s")
