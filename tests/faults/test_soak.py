"""The fault suite, long form (`make soak`): 200,000+ transactions with every fault mixed in.

Run with `pytest -m soak tests/faults` (deselected by default). Besides the reckoning it
reports the gateway's memory (VmHWM, VmRSS from /proc) once the stream is well under way
and at the end: a gateway that keeps growing under a steady stream would run out of
memory in production, so the end must not be far above the early sample.
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import pytest

from devkit.localkafka import LocalBroker
from gateway.child_process import Memory
from gateway.contracts import Codec
from tests.faults.checks import (
    Report,
    conclude,
    replay_dead_letters,
)
from tests.faults.rig import FaultRig, RouterTuning, during, fault_rig
from tests.support.traffic import StreamPlan

pytestmark = [pytest.mark.faults, pytest.mark.soak, pytest.mark.timeout(3600)]

# About 206,000 transactions over five minutes: 70,000 documents, 90,000 dossier events,
# 4,000 CSV reports, 4,000 JSON files of 10 reports, 2,000 bad records (1%).
SOAK = StreamPlan(documents=70_000, events=90_000, report_files=8_000, reports_per_json=10,
                  seconds=300, bad_records=2_000, invalid_share=0.01, resend_share=0.01,
                  webhook_timeout_s=2.0)

# Growth allowed from the early sample to the end: caches filling up and allocator
# slack, not a leak (a leak of even 1 KiB per transaction would add ~150 MiB here).
GROWTH_FACTOR = 1.25
GROWTH_SLACK_KIB = 48 * 1024


async def _memory_samples(rig: FaultRig, samples: list[tuple[float, Memory]]) -> None:
    """Sample the running gateway's memory every 5 s (skipping moments it is restarting)."""
    loop = asyncio.get_running_loop()
    while True:
        with contextlib.suppress(RuntimeError):  # not running: restarting or ended
            samples.append((loop.time(), rig.gateway.memory()))
        await asyncio.sleep(5)


def _quarters(samples: list[Memory]) -> str:
    """VmRSS at 25, 50, 75 and 100% of a run's samples: a plateau shows as flat numbers."""
    if not samples:
        return "no samples"
    points = [samples[max(0, len(samples) * q // 4 - 1)] for q in (1, 2, 3, 4)]
    return " ".join(f"{m.rss_mib:.1f}MiB" for m in points)


@pytest.mark.parametrize("batching", [True, False], ids=["batched", "per-request"])
async def test_soak_200k_transactions_with_faults(
    broker: LocalBroker, workdir: Path, codec: Codec, report: Report, batching: bool
) -> None:
    assert SOAK.approx_transactions >= 200_000
    tuning = RouterTuning(batching=batching)
    name = "soak" if batching else f"soak/{tuning.mode}"
    async with fault_rig(name, broker, workdir, codec, tuning) as rig:
        await rig.stub_faults(error_rate=0.05, latency_ms=20)
        traffic = rig.traffic(SOAK)
        stream = asyncio.create_task(traffic.run())
        start: Memory | None = None
        early: Memory | None = None
        loop = asyncio.get_running_loop()
        started_at = loop.time()

        async def chaos() -> None:
            nonlocal start, early, started_at
            # One crash early on; memory is then measured on the incarnation that
            # carries the rest of the stream: at its start, once warm, and at the end.
            await rig.wait_delivering(10_000, timeout_s=300)
            await rig.kill_gateway()
            start = rig.gateway.memory()
            started_at = loop.time()
            await rig.wait_delivering(40_000, timeout_s=600)
            early = rig.gateway.memory()
            await rig.restart_broker()
            await rig.wait_delivering(40_000, timeout_s=600)
            await rig.stub_faults(down=True)
            # A long outage (three minutes, many retry budgets) with a crash in it: the
            # transactions are held and flow again by themselves; memory stays flat.
            await asyncio.sleep(90)
            await rig.kill_gateway()
            await asyncio.sleep(90)
            await rig.stub_faults(down=False)

        samples: list[tuple[float, Memory]] = []
        sampler = asyncio.create_task(_memory_samples(rig, samples))
        try:
            await during(stream, chaos)
            await rig.stub_faults(error_rate=0.0, latency_ms=0)
            reckoning = await rig.settle(traffic, timeout_s=900)
            end = rig.gateway.memory()
        finally:
            sampler.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sampler
        assert start is not None and early is not None
        report(f"memory soak gateway: start {start}; warm {early}; end {end} "
               f"({len(samples)} samples every 5 s, max VmRSS over the run "
               f"{max(m.rss_mib for _, m in samples):.1f}MiB)")
        report(f"memory soak gateway VmRSS by quarter of the last incarnation's life: "
               f"{_quarters([m for at, m in samples if at >= started_at])}")
        assert end.rss_kib <= early.rss_kib * GROWTH_FACTOR + GROWTH_SLACK_KIB, (
            f"gateway memory kept growing: {early} -> {end}")
        assert reckoning.sent >= 200_000, reckoning
        await conclude(rig, traffic, report, label=f"{name}/before-replay", stop_gateway=False,
                       check_doubles=False, settle_s=300)
        # The outage dead-letters nothing; anything that spent its budget on the 5% error
        # rate while others were answered goes back through a replay, as provincial IT
        # would do; the bad records stay where they are, by design.
        if rig.accounts.dead_letter_ids - rig.accounts.delivered_keys - traffic.bad_ids():
            await replay_dead_letters(rig)
        await conclude(rig, traffic, report, dead_letters_expected=traffic.bad_ids(),
                       settle_s=300)


async def test_one_service_down_for_three_minutes_under_traffic(
    broker: LocalBroker, workdir: Path, codec: Codec, report: Report
) -> None:
    # Issue 22's own scenario: service A (dossiers) down for 3 minutes while A and B
    # (documents, reports) get traffic, a SIGKILL of the gateway in the middle. B keeps
    # arriving throughout, A arrives after recovery by itself, nothing is dead-lettered,
    # and the gateway's memory stays flat while the hold grows.
    dossiers = "QG.DVCQG.DONGBOHOSO"
    plan = StreamPlan(documents=12_000, events=12_000, report_files=400, seconds=220)
    async with fault_rig("service-outage-3min", broker, workdir, codec, RouterTuning()) as rig:
        traffic = rig.traffic(plan)
        stream = asyncio.create_task(traffic.run())
        samples: list[tuple[float, Memory]] = []
        others: list[int] = []

        async def chaos() -> None:
            await rig.wait_delivering(500, timeout_s=120)
            await rig.stub_faults(down_services=[dossiers])
            before = await rig.delivered_count()
            sampler = asyncio.create_task(_memory_samples(rig, samples))
            try:
                await asyncio.sleep(90)
                await rig.kill_gateway()
                await asyncio.sleep(90)
            finally:
                sampler.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await sampler
            others.append(await rig.delivered_count() - before)
            await rig.stub_faults(down_services=[])

        await during(stream, chaos)
        await conclude(rig, traffic, report, dead_letters_expected=set(), settle_s=300)
        rss = [m.rss_mib for _, m in samples]
        report(f"memory service-outage-3min gateway VmRSS during the outage: first "
               f"{rss[0]:.1f}MiB max {max(rss):.1f}MiB last {rss[-1]:.1f}MiB; other services "
               f"delivered during it: {others[0]}; held: {len(rig.accounts.held_ids)}")
        assert others[0] > 5_000, "the other services stalled during the outage"
        assert max(rss) <= rss[0] * GROWTH_FACTOR + GROWTH_SLACK_KIB / 1024
