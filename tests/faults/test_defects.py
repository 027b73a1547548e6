"""Focused regressions for defects the fault suite found, each pinned on its own.

They talk to the same real processes as the scenarios (the suite's broker, `lgsp stub`,
`lgsp run`) but build exactly the situation that exposes one defect, so a fix can be
verified in seconds and a regression is named precisely.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from devkit.localkafka import LocalBroker
from gateway.contracts import Codec, Envelope
from gateway.errors import KafkaError
from gateway.headers import H_TRANSACTION
from gateway.kafka import KafkaAdmin, Producer, TopicPartition, TopicSpec
from tests.faults.checks import DoubledAtEndpointError, Report
from tests.faults.rig import FaultRig, RouterTuning
from tests.support.pipeline import dossier_envelope
from tests.support.reckoning import Reckoning
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.faults, pytest.mark.timeout(120)]

async def test_crash_with_a_backlog_reconciles_everything_it_may_have_sent(
    broker: LocalBroker, workdir: Path, codec: Codec, report: Report
) -> None:
    # A small in-flight window (a legitimate setting for a fragile national service)
    # makes the gap between the committed offset and what was really sent easy to reach.
    window = 64
    rig = FaultRig("crash-with-backlog", broker, workdir, codec,
                   RouterTuning(max_in_flight=window))
    try:
        await rig.stub.start()
        # One partition holding a backlog: every record the dead router may have sent
        # lies in one offset range, right after its last commit.
        topic = rig.topics.source("bulk")
        tp = TopicPartition(topic, 0)
        admin = KafkaAdmin(broker.bootstrap, client_id="fault-defects")
        await admin.start()
        try:
            await admin.ensure_topics([TopicSpec(topic, 1)])
            envelopes = [dossier_envelope(codec, n) for n in range(3000)]
            await _publish(broker.bootstrap, topic, codec, envelopes)
            sent = {e.transaction_id for e in envelopes}

            await rig.gateway.start()

            async def committed() -> int:
                try:
                    return (await admin.group_offsets(rig.group)).get(tp, 0)
                except KafkaError:  # no coordinator yet on a fresh broker: nothing committed
                    return 0

            async def delivered_past_commit() -> int:
                return await rig.delivered_count() - await committed()

            # Crash while more than a window's worth is delivered but not committed (the
            # send limit the router declares keeps the gap within about three windows).
            await wait_for(delivered_past_commit, lambda gap: gap > window,
                           timeout_s=60, interval_s=0.02, what="deliveries past the commit")
            await rig.gateway.kill()
            await rig.gateway.start()

            async def settled() -> bool:
                await rig.accounts.refresh_stub()
                done = await committed() >= len(envelopes)
                return done and rig.accounts.delivered_keys >= sent

            await wait_for(settled, bool, timeout_s=60, interval_s=0.5, what="backlog done")
        finally:
            await admin.stop()
        delivered = sent & rig.accounts.delivered_keys
        reckoning = Reckoning("crash-with-backlog", len(sent), len(delivered),
                              rig.accounts.duplicates_at_stub, 0, len(sent) - len(delivered))
        report(reckoning.line())
        assert reckoning.lost == 0
        if reckoning.duplicates_at_stub:
            raise DoubledAtEndpointError(
                f"{reckoning.duplicates_at_stub} transactions sent again after the crash: "
                f"{rig.accounts.stub_stats}")
    finally:
        await rig.close()



async def test_after_a_timeout_nothing_is_sent_again_without_a_confirmed_lookup(
    broker: LocalBroker, workdir: Path, codec: Codec, report: Report
) -> None:
    # The national service answers slower than the gateway waits (800 ms > 500 ms): the
    # gateway sees timeouts, yet the service records every request it got. Then it is
    # down (503 at once, nothing recorded), then healthy. The breaker stays closed during
    # the first burst, so every transaction really goes out at least once.
    tuning = RouterTuning(request_timeout_s=0.5, backoff_initial_s=2.0, backoff_max_s=2.0,
                          max_attempts=30, breaker_reset_s=0.5, breaker_failure_threshold=1000)
    rig = FaultRig("timeout-then-503", broker, workdir, codec, tuning)
    try:
        await rig.stub.start()
        await rig.stub_faults(latency_ms=800)
        topic = rig.topics.source("bulk")
        tp = TopicPartition(topic, 0)
        admin = KafkaAdmin(broker.bootstrap, client_id="fault-defects")
        await admin.start()
        try:
            await admin.ensure_topics([TopicSpec(topic, 1)])
            await rig.gateway.start()
            # Fewer than the NDXP client's connection pool (100): every request is really
            # sent, none times out waiting for a connection.
            envelopes = [dossier_envelope(codec, n) for n in range(80)]
            await _publish(broker.bootstrap, topic, codec, envelopes)
            sent = {e.transaction_id for e in envelopes}
            # The lengths of the slow and the down phase are the fault being injected.
            await asyncio.sleep(4)
            await rig.stub_faults(down=True, latency_ms=0)
            await asyncio.sleep(3)
            await rig.stub_faults(down=False)

            async def committed() -> int:
                try:
                    return (await admin.group_offsets(rig.group)).get(tp, 0)
                except KafkaError:  # no coordinator yet on a fresh broker: nothing committed
                    return 0

            await wait_for(committed, lambda n: n >= len(envelopes), timeout_s=90,
                           interval_s=0.5, what="all outcomes committed")
        finally:
            await admin.stop()
        await rig.accounts.refresh_stub()
        delivered = sent & rig.accounts.delivered_keys
        reckoning = Reckoning("timeout-then-503", len(sent), len(delivered),
                              rig.accounts.duplicates_at_stub, 0, len(sent) - len(delivered))
        report(reckoning.line())
        # Whatever exhausted its budget would be in the dead-letter topic; with 30
        # attempts nothing should, and nothing may be lost.
        assert reckoning.lost == 0, reckoning
        if reckoning.duplicates_at_stub:
            raise DoubledAtEndpointError(
                f"{reckoning.duplicates_at_stub} transactions sent again although the stub "
                f"had them: {rig.accounts.stub_stats}")
    finally:
        await rig.close()


async def _publish(bootstrap: str, topic: str, codec: Codec,
                   envelopes: list[Envelope]) -> None:
    """Publish envelopes as a connector would (keyed, transaction id header), acknowledged."""
    producer = Producer(bootstrap, client_id="fault-defects")
    await producer.start()
    try:
        acks = [await producer.send(topic, e.encode(codec), key=e.business_key.encode(),
                                    headers=[(H_TRANSACTION, e.transaction_id.encode())])
                for e in envelopes]
        await asyncio.gather(*acks)
    finally:
        await producer.stop()
