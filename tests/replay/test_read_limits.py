"""Traces and replay history are bounded: beyond the limit, 429 with Retry-After at once;
forwarding and the next read go on."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
import pytest

from gateway.contracts import Codec
from gateway.kafka import KafkaAdmin
from gateway.settings import ExpensiveReadSettings
from gateway.topics import Topics
from tests.conftest import BrokerHandle
from tests.replay.conftest import make_rig
from tests.support.auth import bearer
from tests.support.pipeline import dossier_envelope, publish
from tests.support.waiting import wait_for

pytestmark = pytest.mark.integration


async def test_a_burst_of_traces_gets_429_beyond_the_limit(
    kafka: BrokerHandle, kafka_admin: KafkaAdmin, topics: Topics, codec: Codec, tmp_path: Path
) -> None:
    async with make_rig(kafka, kafka_admin, topics, codec, tmp_path, expensive_reads=(
            ExpensiveReadSettings(max_concurrent=2, retry_after_s=3))) as rig:
        envelopes = await rig.unroutable(1)
        tx = envelopes[0].transaction_id
        paths = [f"/transactions/{tx}", "/replays", "/replays/rp-nope"] * 4

        async def get(session: aiohttp.ClientSession, path: str) -> tuple[int, str | None]:
            async with session.get(rig.gateway.url + path) as resp:
                await resp.read()
                return resp.status, resp.headers.get("Retry-After")

        async with aiohttp.ClientSession(headers=bearer(rig.gateway.settings.state_dir)) as session:
            answers = await asyncio.gather(*(get(session, p) for p in paths))
        refused = [a for a in answers if a[0] == 429]
        served = [a for a in answers if a[0] != 429]
        assert refused, answers
        assert {a[1] for a in refused} == {"3"}
        assert 1 <= len(served) <= len(paths) - len(refused)
        assert {s for s, _ in served} <= {200, 404}

        # Forwarding went on, and once the burst is over a read is served again.
        more = [dossier_envelope(codec, n) for n in range(100, 103)]
        await publish(rig.producer, codec, rig.source, more)
        await wait_for(rig.stats, lambda s: s["unique"] >= 3, timeout_s=30,
                       what="3 delivered after the burst")
        status, trace = await rig.api("GET", f"/transactions/{more[0].transaction_id}")
        assert status == 200, trace
