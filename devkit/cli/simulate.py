"""`lgsp simulate ioffice|one-stop|reporting|report-portal|export`: provincial systems.

- `ioffice` serves the iOffice document API and adds documents at a rate until Ctrl-C.
- `one-stop` pushes signed dossier events to a webhook, prints one summary line, exits.
- `reporting` writes report export files into a drop folder, prints a summary, exits.
- `report-portal` serves a JSON list of report submissions (what `rest-poll` reads) and
  can write the connector's JSON config for it, until Ctrl-C.
- `export` writes a merged province's export file for `lgsp import`, then exits.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
from pathlib import Path

from devkit.exports import EXPORT_TYPES, write_export
from devkit.simulators.ioffice import IOfficeSimulator
from devkit.simulators.json_list import ReportPortalSimulator, portal_connector_config
from devkit.simulators.one_stop import DossierEventSender
from devkit.simulators.reporting import ReportWriter
from gateway.cli._base import CommandParser
from gateway.cli._types import non_negative_number, number, port, positive_int, positive_number
from gateway.errors import ConfigError


def register(sub: argparse._SubParsersAction[CommandParser]) -> None:
    """Add `lgsp simulate ...`."""
    simulate = sub.add_parser(
        "simulate", help="simulate a provincial system (iOffice, one-stop, reporting, ...)",
        description="Real simulators of the province's systems for demos, tests and benchmarks.")
    systems = simulate.add_subparsers(dest="system", metavar="SYSTEM", required=True)

    ioffice = systems.add_parser(
        "ioffice", help="serve the iOffice document API with generated documents",
        description="Serve GET /api/v1/documents (what the ioffice connector polls), "
        "POST /api/v1/documents/generate and GET /api/v1/stats; add documents at --rate "
        "until --count, then keep serving until Ctrl-C or SIGTERM. Set LGSP_IOFFICE_TOKEN to "
        "require that bearer token or X-API-Key.")
    ioffice.add_argument("--host", default="127.0.0.1", help="address to bind (default loopback)")
    ioffice.add_argument("--port", type=port, default=os.environ.get("LGSP_IOFFICE_PORT", "8081"),
                         help="port (env LGSP_IOFFICE_PORT, default 8081; 0 picks one)")
    ioffice.add_argument("--rate", type=non_negative_number, default=1.0,
                         help="documents added per second (default 1; 0: only --count at start)")
    ioffice.add_argument("--count", type=positive_int, default=None,
                         help="stop adding after this many documents (default: never)")
    ioffice.add_argument("--modify-share", type=_share, default=0.1,
                         help="share of ticks that change an existing document (default 0.1)")
    ioffice.add_argument("--seed", type=int, default=None, help="random seed (reproducible data)")
    ioffice.set_defaults(handler=_ioffice)

    one_stop = systems.add_parser(
        "one-stop", help="push signed dossier events to the one-stop webhook",
        description="Push dossier status events (in order per dossier) signed with HMAC-SHA256; "
        "retry timeouts, connection errors and 5xx with backoff keeping each event's id; "
        "print one summary line. Exit 0, or 1 if some events could not be delivered.")
    one_stop.add_argument("--target", required=True, metavar="URL",
                          help="webhook URL, e.g. http://127.0.0.1:8181/webhooks/dossier-events")
    one_stop.add_argument("--secret", default=os.environ.get("LGSP_WEBHOOK_SECRET"),
                          help="shared webhook secret (env LGSP_WEBHOOK_SECRET, preferred: "
                          "a command line is visible to other users)")
    one_stop.add_argument("--rate", type=non_negative_number, default=0.0,
                          help="events per second across all workers (default 0: no limit)")
    one_stop.add_argument("--count", type=positive_int, default=100,
                          help="valid events to send (default 100)")
    one_stop.add_argument("--concurrency", type=positive_int, default=8,
                          help="requests in flight at once (default 8)")
    one_stop.add_argument("--batch", type=positive_int, default=1,
                          help="events per request as {\"events\": [...]}, each from another "
                          "dossier (default 1: one event per request)")
    one_stop.add_argument("--invalid-share", type=_share, default=0.0,
                          help="share of extra, deliberately bad requests (default 0)")
    one_stop.add_argument("--resend-share", type=_share, default=0.0,
                          help="share of accepted events sent again with the same id (default 0)")
    one_stop.add_argument("--timeout", type=positive_number, default=10.0,
                          help="seconds to wait for one answer (default 10)")
    one_stop.add_argument("--seed", type=int, default=None, help="random seed (same seed: "
                          "same event ids, so a rerun is all duplicates)")
    one_stop.set_defaults(handler=_one_stop)

    reporting = systems.add_parser(
        "reporting", help="write report export files into a drop folder",
        description="Write CSV/JSON report exports atomically (temporary name, then rename) "
        "into --dir, as the reporting system does; print a summary line.")
    reporting.add_argument("--dir", type=Path, required=True, help="drop folder (must exist)")
    reporting.add_argument("--count", type=positive_int, default=10,
                           help="files to write (default 10)")
    reporting.add_argument("--rate", type=non_negative_number, default=0.0,
                           help="files per second (default 0: all at once)")
    reporting.add_argument("--format", choices=["csv", "json", "mixed"], default="mixed",
                           help="file format (default mixed)")
    reporting.add_argument("--malformed-share", type=_share, default=0.0,
                           help="share of deliberately malformed files (default 0)")
    reporting.add_argument("--seed", type=int, default=None, help="random seed")
    reporting.set_defaults(handler=_reporting)

    portal = systems.add_parser(
        "report-portal", help="serve a JSON list of report submissions (for rest-poll)",
        description="Serve GET /api/v2/submissions?after=&limit= (a JSON list paged by a "
        "change sequence: what the generic rest-poll connector reads), "
        "POST /api/v2/submissions/generate and GET /api/v2/stats until Ctrl-C or SIGTERM. "
        "Set LGSP_PORTAL_TOKEN to require that bearer token.")
    portal.add_argument("--host", default="127.0.0.1", help="address to bind (default loopback)")
    portal.add_argument("--port", type=port, default=8097,
                        help="port (default 8097; 0 picks one)")
    portal.add_argument("--count", type=positive_int, default=20,
                        help="submissions to start with (default 20)")
    portal.add_argument("--seed", type=int, default=None, help="random seed")
    portal.add_argument("--config-out", type=Path, default=None, metavar="FILE.json",
                        help="write a rest-poll connector config for this portal, for "
                        "`lgsp connectors create --file FILE.json`")
    portal.set_defaults(handler=_report_portal)

    export = systems.add_parser(
        "export", help="write a merged province's export file (for lgsp import)",
        description="Write COUNT synthetic records of one message type as JSON Lines or CSV "
        "(from FILE's name: .jsonl or .csv, then .gz to compress), in each dossier's order; "
        "--invalid-share plants records `lgsp import` must reject. Print a summary line.")
    export.add_argument("file", type=Path, metavar="FILE", help="output file")
    export.add_argument("--type", dest="message_type", choices=sorted(EXPORT_TYPES),
                        default="onestop.dossier_event", help="message type (default "
                        "onestop.dossier_event)")
    export.add_argument("--count", type=positive_int, default=1000,
                        help="records to write (default 1000)")
    export.add_argument("--invalid-share", type=_share, default=0.0,
                        help="share of deliberately invalid records (default 0)")
    export.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    export.set_defaults(handler=_export)


async def _ioffice(args: argparse.Namespace) -> int:
    simulator = IOfficeSimulator(
        args.host, args.port, seed=args.seed, token=os.environ.get("LGSP_IOFFICE_TOKEN"),
        rate=args.rate, count=args.count, modify_share=args.modify_share,
    )
    await simulator.start()
    try:
        if args.rate == 0 and args.count:
            simulator.generate(args.count)
        print(f"iOffice simulator serving {simulator.url}/api/v1/documents "
              "(Ctrl-C or SIGTERM stops it)", flush=True)
        await _until_terminated()
    finally:
        await simulator.stop()
    stats = simulator.stats
    print(f"documents={stats.documents} generated={stats.generated} modified={stats.modified} "
          f"requests={stats.requests}")
    return 0


async def _one_stop(args: argparse.Namespace) -> int:
    if not args.secret:
        raise ConfigError("--secret (or LGSP_WEBHOOK_SECRET) is required")
    sender = DossierEventSender(
        args.target, args.secret, rate=args.rate or None, concurrency=args.concurrency,
        invalid_share=args.invalid_share, resend_share=args.resend_share, seed=args.seed,
        timeout_s=args.timeout, batch=args.batch,
    )
    summary = await sender.send(args.count)
    print(summary.line())
    return 1 if summary.failed else 0


async def _reporting(args: argparse.Namespace) -> int:
    directory: Path = args.dir
    if not await asyncio.to_thread(directory.is_dir):
        raise ConfigError(f"--dir {directory} is not a folder")
    writer = ReportWriter(directory, fmt=args.format, malformed_share=args.malformed_share,
                          seed=args.seed)
    files = await writer.write(args.count, rate=args.rate or None)
    print(f"files={len(files)} reports={sum(f.reports for f in files if not f.malformed)} "
          f"malformed={sum(f.malformed for f in files)} dir={directory}")
    return 0


async def _report_portal(args: argparse.Namespace) -> int:
    token = os.environ.get("LGSP_PORTAL_TOKEN")
    simulator = ReportPortalSimulator(args.host, args.port, seed=args.seed, token=token)
    await simulator.start()
    try:
        simulator.generate(args.count)
        if args.config_out is not None:
            # Without the token: a file is no place for it (add api.token when creating).
            config = {"name": "report-portal", "config": portal_connector_config(
                simulator.list_url, "000.00.00.H12")}
            await asyncio.to_thread(args.config_out.write_text,
                                    json.dumps(config, ensure_ascii=False, indent=2) + "\n")
            print(f"wrote {args.config_out}" + (" (add api.token: LGSP_PORTAL_TOKEN is set)"
                                                 if token else ""), flush=True)
        print(f"report portal simulator serving {simulator.list_url} "
              "(Ctrl-C or SIGTERM stops it)", flush=True)
        await _until_terminated()
    finally:
        await simulator.stop()
    print(f"records={len(simulator.records)}")
    return 0


async def _export(args: argparse.Namespace) -> int:
    path: Path = args.file
    if not path.name.lower().removesuffix(".gz").endswith((".jsonl", ".csv")):
        raise ConfigError(f"{path}: name the file .jsonl or .csv (then .gz to compress)")
    try:
        summary = await asyncio.to_thread(
            write_export, path, args.message_type, args.count, seed=args.seed,
            invalid_share=args.invalid_share)
    except OSError as exc:
        raise ConfigError(f"cannot write {path}: {exc.strerror or exc}") from exc
    print(f"records={summary.records} invalid={len(summary.invalid)} file={path}")
    return 0


async def _until_terminated() -> None:
    """Wait for SIGTERM (Ctrl-C arrives as KeyboardInterrupt through the runner)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    try:
        await stop.wait()
    finally:
        with contextlib.suppress(ValueError, RuntimeError):  # loop already closing
            loop.remove_signal_handler(signal.SIGTERM)


def _share(text: str) -> float:
    value = number(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{text} is not a share between 0 and 1")
    return value
