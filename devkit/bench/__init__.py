"""`lgsp bench`: throughput, latency and memory of the whole pipeline, beside baselines.

Every figure is reported beside ceilings measured in the same run on the same data, so
a noisy, shared machine still gives comparable numbers:

- K, the Kafka ceiling (produce then consume the same encoded envelopes),
- H, the HTTP ceiling (a minimal forwarder with the router's concurrency),

then the gateway itself (`lgsp run` as its own process) draining a pre-loaded backlog,
its ingest paths (one-stop webhook single and batched, ioffice poller), end-to-end
latency under open-loop load, its peak memory, and the codec's rates.
"""

from devkit.bench.options import SCENARIOS, BenchOptions
from devkit.bench.report import render_table
from devkit.bench.runner import run_bench

__all__ = ["SCENARIOS", "BenchOptions", "render_table", "run_bench"]
