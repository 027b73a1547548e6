"""`lgsp bench --quick` as a user runs it, against the session's broker.

Speed is measured by the benchmark, never asserted here: the test only proves that
every section is produced with plausible (positive) figures and that the run leaves no
process behind.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.conftest import BrokerHandle
from tests.support.cli import LGSP

pytestmark = pytest.mark.e2e

# Each (section, key...) must hold a number above zero.
_POSITIVE = (
    ("codec", "envelope_encode_per_s"),
    ("codec", "envelope_decode_per_s"),
    ("codec", "transaction_encode_per_s"),
    ("codec", "transaction_decode_per_s"),
    ("baseline_kafka", "produce", "per_s"),
    ("baseline_kafka", "consume", "per_s"),
    ("baseline_kafka", "round_trip_per_s"),
    ("baseline_http", "per_s"),
    ("router_drain", "per_s"),
    ("router_drain", "ratio_to_http"),
    ("router_drain", "ratio_to_kafka"),
    ("router_drain", "gateway_peak_rss_mib"),
    ("router_drain", "ratio_median"),
    ("archive", "router_hours"),
    ("batched_drain", "per_s"),
    ("batched_drain", "ratio_to_kafka"),
    ("batched_drain", "ratio_to_per_request"),
    ("batched_drain", "gateway_peak_rss_mib"),
    ("batched_drain", "archive_minutes"),
    ("ingest", "webhook_single", "per_s"),
    ("ingest", "webhook_batched", "per_s"),
    ("ingest", "ioffice", "per_s"),
    ("memory", "gateway", "peak_rss_mib"),
)
_LATENCY_KEYS = ("offered_per_s", "accepted", "measured", "p50_ms", "p95_ms", "p99_ms", "max_ms")


def _at(doc: dict[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = doc
    for key in path:
        assert isinstance(value, dict) and key in value, f"missing {'.'.join(path)}"
        value = value[key]
    return value


async def test_quick_bench_reports_every_section(kafka: BrokerHandle, tmp_path: Path) -> None:
    output = tmp_path / "bench.json"
    env = {**os.environ, "LGSP_STATE_DIR": str(tmp_path / "state"), "LGSP_LOG_FORMAT": "json"}
    proc = await asyncio.create_subprocess_exec(
        LGSP, "bench", "--quick", "--rounds", "2", "--bootstrap-servers", kafka.bootstrap,
        "--output", str(output), env=env, cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        out, err = await asyncio.wait_for(proc.communicate(), 120)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 0, err.decode()
    assert str(output) in out.decode()
    doc = orjson.loads(output.read_bytes())

    for path in _POSITIVE:
        value = _at(doc, path)
        assert isinstance(value, int | float) and value > 0, f"{'.'.join(path)} = {value!r}"
    # Two rounds: H and the router each drained twice, alternately (the gateway restarted).
    assert [r["ratio"] > 0 for r in doc["router_drain"]["rounds"]] == [True, True]
    assert [run["offered_per_s"] for run in doc["latency"]] == [500.0, 2000.0]
    for run in doc["latency"]:
        for key in _LATENCY_KEYS:
            assert run[key] > 0, f"latency at {run['offered_per_s']}/s: {key} = {run[key]!r}"
        assert run["p50_ms"] <= run["p95_ms"] <= run["p99_ms"] <= run["max_ms"]
    targets = {t["target"].split()[0] for t in doc["targets"]}
    assert targets >= {"router", "batched", "webhook", "p99"}
    # The gateway's log is kept beside the results; the work folder is removed.
    assert (tmp_path / "bench-logs" / "gateway.log").is_file()
    assert not list((tmp_path / "state" / "bench").glob("*")), "work folder left behind"
