"""What one `lgsp bench` run measures, and how big: defaults, and the `--quick` size."""

from __future__ import annotations

__all__ = ["SCENARIOS", "BenchOptions"]

from dataclasses import dataclass, field
from pathlib import Path

SCENARIOS = ("codec", "kafka", "http", "drain", "batched", "ingest", "latency", "index")
"""Every scenario, in the order they run."""


@dataclass(frozen=True, slots=True)
class BenchOptions:
    """Sizes and loads of a run. The defaults finish in a few minutes on two cores.

    `transactions` is the backlog size that baseline H and the router each drain (and
    baseline K produces and consumes); `ingest_events` is what each ingest path takes
    (single-event webhook, batched webhook, ioffice documents). `router_processes` > 1
    drains with that many router processes in one consumer group (scale-out). `rounds` > 1
    repeats baseline H and the router drain alternately, so both meet the same machine.
    """

    transactions: int = 50_000
    ingest_events: int = 20_000
    batch_size: int = 100
    concurrency: int = 64
    router_processes: int = 1
    rounds: int = 1
    rates: tuple[float, ...] = (500.0, 2_000.0)
    duration_s: float = 30.0
    warmup_s: float = 3.0
    codec_records: int = 100_000
    index_transactions: int = 200_000  # the index scenario's size per store (target: 10 M)
    index_postgres_url: str | None = None  # default: a private throw-away PostgreSQL
    scenarios: frozenset[str] = field(default_factory=lambda: frozenset(SCENARIOS))
    bootstrap_servers: str | None = None
    stub_in_process: bool = False
    stub_fsync: bool = False
    output: Path | None = None
    profile: Path | None = None
    config: Path | None = None
    quick: bool = False

    @classmethod
    def quick_size(cls) -> BenchOptions:
        """The smoke size: every scenario, tiny counts, stub in-process; seconds, not minutes."""
        return cls(transactions=1_000, ingest_events=400, batch_size=50, concurrency=16,
                   duration_s=1.0, warmup_s=0.0, codec_records=5_000, stub_in_process=True,
                   index_transactions=2_000, quick=True)
