"""`lgsp bench`: measure the whole pipeline against Kafka and HTTP baselines."""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

import structlog
from rich.console import Console

from devkit.bench import SCENARIOS, BenchOptions, render_table, run_bench
from devkit.bench.index_scenario import render_index
from gateway.cli._base import CommandParser, add_config_option
from gateway.cli._types import positive_int, positive_number
from gateway.gc_tuning import relax_collector


def register(sub: argparse._SubParsersAction[CommandParser]) -> None:
    """Add `lgsp bench`."""
    defaults = BenchOptions()
    bench = sub.add_parser(
        "bench", help="measure throughput, latency and memory against baselines",
        description="Start a private Kafka broker (or use --bootstrap-servers), the NDXP "
        "stub (`lgsp stub`) and the gateway (`lgsp run`) as separate processes; measure "
        "baseline K (Kafka produce+consume), baseline H (a minimal forwarder), the "
        "router draining a pre-loaded backlog, webhook and ioffice ingest, end-to-end "
        "latency under open-loop load, peak RSS and the codec. Prints a table and writes "
        "bench-results/bench-<timestamp>.json. Defaults take a few minutes on two cores.",
    )
    add_config_option(bench)
    bench.add_argument("--quick", action="store_true",
                       help="smoke size: tiny counts, stub in-process; well under a minute")
    bench.add_argument("--bootstrap-servers", default=os.environ.get("LGSP_BOOTSTRAP_SERVERS"),
                       metavar="HOST:PORT",
                       help="use this broker instead of starting a private one; the run's "
                       "topics are deleted afterwards (env LGSP_BOOTSTRAP_SERVERS)")
    bench.add_argument("--transactions", type=positive_int, default=None, metavar="N",
                       help=f"backlog drained by H and by the router, records of K "
                       f"(default {defaults.transactions:,})")
    bench.add_argument("--ingest-events", type=positive_int, default=None, metavar="N",
                       help=f"events per ingest path (default {defaults.ingest_events:,})")
    bench.add_argument("--batch-size", type=positive_int, default=None, metavar="N",
                       help=f"events per batched webhook request (default "
                       f"{defaults.batch_size})")
    bench.add_argument("--concurrency", type=positive_int, default=None, metavar="N",
                       help=f"webhook client connections for single events (default "
                       f"{defaults.concurrency})")
    bench.add_argument("--router-processes", type=positive_int, default=None, metavar="N",
                       help="router processes (one consumer group) draining the backlog; "
                       "the extra ones run with LGSP_ROLES=router (default 1)")
    bench.add_argument("--rounds", type=positive_int, default=None, metavar="N",
                       help="alternate baseline H and the router drain N times and judge the "
                       "median ratio (default 1)")
    bench.add_argument("--rates", type=_rates, default=None, metavar="R,R",
                       help="offered loads (tx/s) of the latency runs (default 500,2000)")
    bench.add_argument("--duration", type=positive_number, default=None, metavar="SECONDS",
                       help=f"measured seconds per latency run (default {defaults.duration_s:g})")
    bench.add_argument("--index-transactions", type=positive_int, default=None, metavar="N",
                       help=f"transactions per store of the index scenario (default "
                       f"{defaults.index_transactions:,}; the target is stated for 10,000,000)")
    bench.add_argument("--index-postgres-url", default=None, metavar="URL",
                       help="PostgreSQL for the index scenario (default: a private server)")
    bench.add_argument("--scenarios", type=_scenarios, default=None, metavar="LIST",
                       help=f"comma-separated subset of {','.join(SCENARIOS)} (default all)")
    bench.add_argument("--stub", choices=["process", "in-process"], default=None,
                       help="run the stub as `lgsp stub` (default) or inside the benchmark "
                       "(default with --quick)")
    bench.add_argument("--stub-fsync", action="store_true",
                       help="let the stub fsync its journal (default off: the disk would be "
                       "measured, not the gateway)")
    bench.add_argument("--output", type=Path, default=None, metavar="FILE",
                       help="JSON results file (default bench-results/bench-<timestamp>.json)")
    bench.add_argument("--profile", type=Path, default=None, metavar="FILE",
                       help="run the gateway under pyinstrument and save its session here "
                       "(render with `pyinstrument --load=FILE`)")
    bench.set_defaults(handler=_bench)


def _options(args: argparse.Namespace) -> BenchOptions:
    base = BenchOptions.quick_size() if args.quick else BenchOptions()
    changes: dict[str, Any] = {
        "transactions": args.transactions, "ingest_events": args.ingest_events,
        "batch_size": args.batch_size, "concurrency": args.concurrency, "rates": args.rates,
        "router_processes": args.router_processes, "rounds": args.rounds,
        "duration_s": args.duration, "scenarios": args.scenarios,
        "bootstrap_servers": args.bootstrap_servers, "output": args.output,
        "profile": args.profile, "config": args.config,
        "index_transactions": args.index_transactions,
        "index_postgres_url": args.index_postgres_url,
    }
    if args.stub is not None:
        changes["stub_in_process"] = args.stub == "in-process"
    if args.stub_fsync:
        changes["stub_fsync"] = True
    return dataclasses.replace(base, **{k: v for k, v in changes.items() if v is not None})


async def _bench(args: argparse.Namespace) -> int:
    # Baseline H runs in this process: give it the same collector footing as the gateway.
    relax_collector()
    options = _options(args)
    if args.log_level is None and "LGSP_LOG_LEVEL" not in os.environ:
        # The broker, an in-process stub and the simulator log their start and stop at
        # INFO; the progress lines say that already. The children log to their files.
        structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    started = time.monotonic()

    def progress(message: str) -> None:
        print(f"[{time.monotonic() - started:6.1f}s] {message}", file=sys.stderr, flush=True)

    doc, path = await run_bench(options, progress)
    console = Console()
    if not console.is_terminal:
        # Piped into a file or CI log: wide enough that rows do not wrap.
        console = Console(width=160)
    if options.scenarios - {"index"}:
        render_table(doc, console)
    render_index(doc, console)
    print(f"results: {path}")
    return 0


def _rates(text: str) -> tuple[float, ...]:
    rates = tuple(positive_number(item) for item in text.split(",") if item.strip())
    if not rates:
        raise argparse.ArgumentTypeError("give at least one rate, e.g. 500,2000")
    return rates


def _scenarios(text: str) -> frozenset[str]:
    chosen = frozenset(item.strip() for item in text.split(",") if item.strip())
    unknown = sorted(chosen - set(SCENARIOS))
    if unknown or not chosen:
        raise argparse.ArgumentTypeError(
            f"unknown scenario(s) {','.join(unknown) or '(none)'}; choose from "
            f"{','.join(SCENARIOS)}")
    return chosen
