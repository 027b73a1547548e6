"""The fault suite, short form: each fault alone, then all of them at once.

Every scenario drives the real processes (the suite's own broker, `lgsp stub`, `lgsp run`,
connectors registered with `lgsp connectors create`) with a stream from the three
simulated systems, injects its fault mid-stream, waits until the pipeline has settled,
and prints one reckoning line. It passes only when nothing is lost, the national side saw
no transaction twice, and every dead letter says why.
"""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

import pytest

from devkit.localkafka import LocalBroker
from gateway.contracts import Codec
from tests.faults.checks import (
    Report,
    conclude,
    replay_dead_letters,
)
from tests.faults.rig import RouterTuning, during, fault_rig
from tests.support.traffic import StreamPlan

pytestmark = [pytest.mark.faults, pytest.mark.timeout(180)]

# About 1,400 transactions over 8 s (500 documents, 700 dossier events, 60 CSV and 60
# JSON report files with 3 reports each): enough for every partition to be busy when a
# fault lands, small enough for the whole suite to stay within a few minutes.
SMALL = StreamPlan(documents=500, events=700, report_files=120, seconds=8)

# Short retry budget for the outage scenarios: 3 attempts over well under a second, so
# an outage of a few seconds is many budgets long; it must hold, not dead-letter.
SHORT_BUDGET = RouterTuning(max_attempts=3, backoff_initial_s=0.05, backoff_max_s=0.2,
                            breaker_reset_s=0.5)

# Batching is on by default (dossier events go in batches): every scenario runs so. The
# crash and the outage, where batching changes most, also run with it off.
BOTH_MODES = pytest.mark.parametrize("batching", [True, False], ids=["batched", "per-request"])
# The rest run per-request too in `make soak` (the full matrix of both modes).
ALSO_PER_REQUEST_IN_SOAK = pytest.mark.parametrize("batching", [
    pytest.param(True, id="batched"),
    pytest.param(False, id="per-request", marks=pytest.mark.soak),
])


def _scenario(name: str, tuning: RouterTuning) -> str:
    return name if tuning.batching else f"{name}/{tuning.mode}"


@BOTH_MODES
async def test_gateway_sigkilled_three_times_mid_stream(
    broker: LocalBroker, workdir: Path, codec: Codec, report: Report, batching: bool
) -> None:
    tuning = RouterTuning(batching=batching)
    async with fault_rig(_scenario("gateway-sigkill", tuning), broker, workdir, codec,
                         tuning) as rig:
        traffic = rig.traffic(StreamPlan(documents=600, events=800, report_files=140,
                                         seconds=10))
        stream = asyncio.create_task(traffic.run())

        async def chaos() -> None:
            # 1: while the router forwards (and the connectors publish).
            await rig.wait_delivering(200)
            await rig.kill_gateway()
            # 2: right after the restart, while connectors catch up and the router is
            # still waiting for its partitions. A fixed pause is the point: mid-stream.
            await asyncio.sleep(2)
            await rig.kill_gateway()
            # 3: once the router forwards again.
            await rig.wait_delivering(200)
            await rig.kill_gateway()

        await during(stream, chaos)
        assert rig.kills == 3
        await conclude(rig, traffic, report, dead_letters_expected=set())


@ALSO_PER_REQUEST_IN_SOAK
async def test_broker_restarted_mid_stream(
    broker: LocalBroker, workdir: Path, codec: Codec, report: Report, batching: bool
) -> None:
    tuning = RouterTuning(batching=batching)
    async with fault_rig(_scenario("broker-restart", tuning), broker, workdir, codec,
                         tuning) as rig:
        traffic = rig.traffic(SMALL)
        stream = asyncio.create_task(traffic.run())

        async def chaos() -> None:
            await rig.wait_delivering(200)
            await rig.restart_broker()

        await during(stream, chaos)
        assert rig.broker_restarts == 1
        assert rig.gateway.running, "the gateway must ride out a broker restart"
        await conclude(rig, traffic, report, dead_letters_expected=set())


@BOTH_MODES
async def test_endpoint_down_for_many_retry_budgets_holds_then_delivers_by_itself(
    broker: LocalBroker, workdir: Path, codec: Codec, report: Report, batching: bool
) -> None:
    tuning = dataclasses.replace(SHORT_BUDGET, batching=batching)
    async with fault_rig(_scenario("endpoint-outage", tuning), broker, workdir, codec,
                         tuning) as rig:
        traffic = rig.traffic(SMALL)
        stream = asyncio.create_task(traffic.run())

        async def chaos() -> None:
            await rig.wait_delivering(200)
            await rig.stub_faults(down=True)
            # Down for many retry budgets (each well under a second here), with a crash
            # of the gateway in the middle of the outage.
            await rig.wait_held(150)
            await rig.kill_gateway()
            await asyncio.sleep(4)
            await rig.stub_faults(down=False)

        await during(stream, chaos)
        # No replay, no operator: everything held is delivered once the service answers.
        await conclude(rig, traffic, report, dead_letters_expected=set())
        assert len(rig.accounts.held_ids) >= 150


@ALSO_PER_REQUEST_IN_SOAK
async def test_one_service_down_delays_none_of_the_others(
    broker: LocalBroker, workdir: Path, codec: Codec, report: Report, batching: bool
) -> None:
    tuning = dataclasses.replace(SHORT_BUDGET, batching=batching)
    dossiers = "QG.DVCQG.DONGBOHOSO"
    async with fault_rig(_scenario("service-outage", tuning), broker, workdir, codec,
                         tuning) as rig:
        traffic = rig.traffic(StreamPlan(documents=600, events=700, report_files=120,
                                         seconds=12))
        stream = asyncio.create_task(traffic.run())
        others: list[int] = []

        async def chaos() -> None:
            await rig.wait_delivering(100)
            await rig.stub_faults(down_services=[dossiers])
            await rig.wait_held(100)
            before = await rig.delivered_count()
            await rig.kill_gateway()  # a crash during the outage changes nothing
            # The other services' transactions keep arriving while dossiers wait.
            await rig.wait_delivering(200, timeout_s=60)
            others.append(await rig.delivered_count() - before)
            await rig.stub_faults(down_services=[])

        await during(stream, chaos)
        await conclude(rig, traffic, report, dead_letters_expected=set())
        assert others and others[0] >= 200
        by_service = rig.accounts.stub_stats["by_service"]
        assert isinstance(by_service, dict) and by_service[dossiers]["unique"] > 0


@ALSO_PER_REQUEST_IN_SOAK
async def test_endpoint_flaky_and_slow(
    broker: LocalBroker, workdir: Path, codec: Codec, report: Report, batching: bool
) -> None:
    tuning = RouterTuning(batching=batching)
    async with fault_rig(_scenario("endpoint-flaky-slow", tuning), broker, workdir, codec,
                         tuning) as rig:
        # A third of the requests fail with 503, each answer takes 100 ms.
        await rig.stub_faults(error_rate=0.3, latency_ms=100)
        traffic = rig.traffic(SMALL)
        await traffic.run()
        before = await conclude(rig, traffic, report, label=f"{rig.scenario}/settled",
                                stop_gateway=False)
        stats = rig.accounts.stub_stats
        assert isinstance(stats["rejected"], int) and stats["rejected"] > 100, stats
        # Ten attempts at a 30% failure rate leave about one in 170,000 to exhaust its
        # budget by chance; any that did must say so, and a replay must deliver them.
        classes = {d.exception_class.rsplit(".", 1)[-1] for d in rig.accounts.dead_letters}
        assert classes <= {"TransientForwardError", "CircuitOpenError"}, classes
        await rig.stub_faults(error_rate=0.0, latency_ms=0)
        if before.dead_lettered:
            await replay_dead_letters(rig)
        await conclude(rig, traffic, report, dead_letters_expected=set())


@ALSO_PER_REQUEST_IN_SOAK
async def test_malformed_and_unroutable_records(
    broker: LocalBroker, workdir: Path, codec: Codec, report: Report, batching: bool
) -> None:
    tuning = RouterTuning(batching=batching)
    async with fault_rig(_scenario("bad-data", tuning), broker, workdir, codec,
                         tuning) as rig:
        # About 1% of the stream is bad: undecodable bytes and envelopes of an unknown
        # message type on the connector topics; and 1% invalid webhook requests and
        # malformed report files, which the connectors refuse at the door.
        plan = StreamPlan(documents=500, events=700, report_files=120, seconds=8,
                          bad_records=16, invalid_share=0.01)
        traffic = rig.traffic(plan)
        await traffic.run()
        bad = traffic.bad_ids()
        await conclude(rig, traffic, report, dead_letters_expected=bad)

        by_id = {d.transaction_id: d for d in rig.accounts.dead_letters}
        for tx in traffic.result.bad_unroutable:
            assert by_id[tx].exception_class.endswith(".NoRouteError"), by_id[tx]
            assert by_id[tx].stage == "TRANSFORMATION"
        for tx in traffic.result.bad_undecodable:
            assert by_id[tx].stage == "VALUE_CONVERTER", by_id[tx]
        # What the connectors refused never entered Kafka, and the sender was told so.
        refused_files = [f for f in traffic.result.files if f.malformed]
        failed_dir = rig.drop_dir / "failed"
        for written in refused_files:
            reason = failed_dir / f"{written.path.name}.reason.txt"
            assert await asyncio.to_thread(reason.is_file), f"no reason for {written.path.name}"


@ALSO_PER_REQUEST_IN_SOAK
async def test_webhook_sender_retries_after_timeouts(
    broker: LocalBroker, workdir: Path, codec: Codec, report: Report, batching: bool
) -> None:
    tuning = RouterTuning(batching=batching)
    async with fault_rig(_scenario("webhook-resend", tuning), broker, workdir, codec,
                         tuning) as rig:
        # The one-stop system resends 5% of its accepted events, and gives up waiting
        # for an answer after 50 ms (then sends the same event again): the same event
        # reaches the webhook twice. 2,400 events put resends past the first 512
        # records of every partition, where the router no longer reconciles by default.
        plan = StreamPlan(documents=200, events=2400, report_files=40, seconds=10,
                          resend_share=0.05, webhook_timeout_s=0.05)
        traffic = rig.traffic(plan)
        await traffic.run()
        summary = traffic.result.one_stop
        assert summary is not None and summary.resent > 0
        await conclude(rig, traffic, report, dead_letters_expected=set())


@ALSO_PER_REQUEST_IN_SOAK
async def test_all_faults_combined(
    broker: LocalBroker, workdir: Path, codec: Codec, report: Report, batching: bool
) -> None:
    tuning = dataclasses.replace(SHORT_BUDGET, batching=batching)
    async with fault_rig(_scenario("combined", tuning), broker, workdir, codec,
                         tuning) as rig:
        await rig.stub_faults(error_rate=0.1, latency_ms=30)
        # Long enough (24 s) that every fault below lands while the stream still flows.
        # 2,000 events put resends past the first 512 records of the one-stop partitions.
        plan = StreamPlan(documents=500, events=2000, report_files=140, seconds=24,
                          bad_records=30, invalid_share=0.01, resend_share=0.03,
                          webhook_timeout_s=0.5)
        traffic = rig.traffic(plan)
        stream = asyncio.create_task(traffic.run())

        async def chaos() -> None:
            await rig.wait_delivering(200)
            await rig.kill_gateway()
            await rig.wait_delivering(200)
            await rig.restart_broker()
            await rig.wait_delivering(200)
            await rig.stub_faults(down=True)
            await rig.wait_held(50)
            await rig.kill_gateway()  # in the middle of the outage
            await rig.stub_faults(down=False)

        await during(stream, chaos)
        await rig.stub_faults(error_rate=0.0, latency_ms=0)
        await conclude(rig, traffic, report, label=f"{rig.scenario}/before-replay",
                       stop_gateway=False, check_doubles=False)
        # The outage itself dead-letters nothing; a transaction that spent its retry budget
        # on the 10% error rate while others were answered did fail on its own merits and
        # goes back through a replay, as provincial IT would do. Bad records stay.
        if rig.accounts.dead_letter_ids - rig.accounts.delivered_keys - traffic.bad_ids():
            await replay_dead_letters(rig)
        await conclude(rig, traffic, report, dead_letters_expected=traffic.bad_ids())
