"""The index inside a real gateway on the session broker, on SQLite and on PostgreSQL:
trace and listings come from it; it catches up after downtime; dropped and restarted,
it rebuilds from the topics and the same queries give the same answers. The CLI reads
the same index."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
from pydantic import SecretStr

from devkit.localkafka import free_port
from devkit.stub import StubConfig, StubServer
from gateway.app import Gateway
from gateway.contracts import Codec, Envelope
from gateway.index import open_store
from gateway.kafka import KafkaAdmin, Producer, TopicSpec
from gateway.settings import IndexSettings, NdxpSettings, RouterSettings, Settings
from gateway.topics import Topics
from gateway.trace import Tracer, trace_json
from gateway.trace.api import TraceResponse
from tests.conftest import BrokerHandle
from tests.support.auth import bearer
from tests.support.cli import LGSP
from tests.support.pipeline import dossier_envelope, publish, set_faults
from tests.support.waiting import wait_for

pytestmark = pytest.mark.integration
SERVICE = "QG.DVCQG.DONGBOHOSO"


async def _get(gateway: Gateway, path: str) -> tuple[int, Any, dict[str, str]]:
    async with aiohttp.ClientSession(headers=bearer(gateway.settings.state_dir)) as session, \
            session.get(gateway.url + path) as resp:
        return resp.status, orjson.loads(await resp.read()), dict(resp.headers)


@asynccontextmanager
async def _running(settings: Settings) -> AsyncIterator[Gateway]:
    gateway = Gateway(settings)
    await gateway.start()
    try:
        yield gateway
    finally:
        await gateway.stop()


async def _listing(gateway: Gateway, query: str) -> list[str]:
    """Every id of a listing, following the cursor across pages of 3."""
    ids: list[str] = []
    cursor = ""
    while True:
        status, body, _ = await _get(gateway, f"/transactions?limit=3&{query}{cursor}")
        assert status == 200, body
        ids.extend(t["transaction_id"] for t in body["transactions"])
        if body["next_cursor"] is None:
            return ids
        cursor = f"&cursor={body['next_cursor']}"


async def _answers(gateway: Gateway) -> dict[str, list[str]]:
    return {o: sorted(await _listing(gateway, f"outcome={o}"))
            for o in ("DELIVERED", "DEAD_LETTERED", "IN_FLIGHT")}


async def _same_trace_as_the_topics(gateway: Gateway, tracer: Tracer, tx: str) -> None:
    status, body, headers = await _get(gateway, f"/transactions/{tx}")
    assert status == 200, body
    assert headers["X-LGSP-Trace-Source"] == "index"
    expected = TraceResponse.model_validate(trace_json(await tracer.trace(tx)))
    assert body == expected.model_dump(mode="json", by_alias=True)


async def _lgsp(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        LGSP, *args, env=env, stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_index_serves_catches_up_and_rebuilds(
    *, index_url: str, kafka: BrokerHandle, kafka_admin: KafkaAdmin, topics: Topics,
    codec: Codec, tmp_path: Path,
) -> None:
    source = topics.source("one-stop")
    await kafka_admin.ensure_topics([TopicSpec(source)])
    async with StubServer(StubConfig(data_dir=tmp_path / "stub", port=free_port(),
                                     fsync=False)) as stub:
        settings = Settings(
            bootstrap_servers=kafka.bootstrap, topic_prefix=topics.prefix, port=0,
            state_dir=tmp_path / "state", ndxp=NdxpSettings(url=stub.url),
            # An outage holds transactions; held past hold_max_s they are dead-lettered
            # when the service answers again: dead letters that name their service.
            router=RouterSettings(max_attempts=1, breaker_failure_threshold=1,
                                  breaker_reset_s=0.2, breaker_reset_max_s=0.5,
                                  hold_max_s=1.0, commit_interval_s=0.1),
            index=IndexSettings(url=SecretStr(index_url), batch_interval_s=0.05))
        tracer = Tracer(kafka.bootstrap, topics, codec)
        producer = Producer(kafka.bootstrap)
        await producer.start()
        try:
            delivered = [dossier_envelope(codec, n) for n in range(6)]
            failed = [dossier_envelope(codec, n) for n in range(6, 9)]
            async with _running(settings) as gateway:
                await publish(producer, codec, source, delivered)
                await wait_for(lambda: _answers(gateway),
                               lambda a: len(a["DELIVERED"]) == 6, what="6 delivered")
                await set_faults(stub.url, down=True)
                await publish(producer, codec, source, failed)
                held = await wait_for(lambda: _listing(gateway, "outcome=HELD"),
                                      lambda ids: len(ids) == 3, what="3 held in the index")
                assert sorted(held) == sorted(e.transaction_id for e in failed)
                await _same_trace_as_the_topics(gateway, tracer, failed[2].transaction_id)
                await asyncio.sleep(1.5)
                await set_faults(stub.url, down=False)
                before = await wait_for(lambda: _answers(gateway),
                                        lambda a: len(a["DEAD_LETTERED"]) == 3,
                                        what="3 dead-lettered in the index")
                assert before["DELIVERED"] == sorted(e.transaction_id for e in delivered)
                assert before["DEAD_LETTERED"] == sorted(e.transaction_id for e in failed)
                assert await _listing(gateway, f"business_key={failed[0].business_key}") == [
                    failed[0].transaction_id]
                for env in (delivered[0], failed[0]):
                    await _same_trace_as_the_topics(gateway, tracer, env.transaction_id)
                status, health, _ = await _get(gateway, "/services")
                assert status == 200
                [svc] = health["services"]
                assert (svc["service"], svc["successes"], svc["failures"]) == (SERVICE, 6, 3)
                status, body, _ = await _get(gateway, "/transactions?outcome=LOST")
                assert (status, body["error_code"]) == (400, 400)

            # Downtime: what arrives while the gateway is stopped is indexed at restart.
            late = [dossier_envelope(codec, n) for n in range(9, 11)]
            await publish(producer, codec, source, late)
            async with _running(settings) as gateway:
                after = await wait_for(lambda: _answers(gateway),
                                       lambda a: len(a["DELIVERED"]) == 8,
                                       what="the late two delivered and indexed")
                assert after["DEAD_LETTERED"] == before["DEAD_LETTERED"]
                assert after["IN_FLIGHT"] == []

            store = await open_store(settings)
            try:
                assert await store.count() == 11  # each exactly once
                await store.drop()
                assert await store.count() == 0
            finally:
                await store.close()
            async with _running(settings) as gateway:
                rebuilt = await wait_for(lambda: _answers(gateway), lambda a: a == after,
                                         what="the same answers after the rebuild")
                assert rebuilt == after
                await _same_trace_as_the_topics(gateway, tracer, failed[1].transaction_id)

            cli_env = {**os.environ, "LGSP_BOOTSTRAP_SERVERS": kafka.bootstrap,
                   "LGSP_TOPIC_PREFIX": topics.prefix, "LGSP_INDEX__URL": index_url,
                       "LGSP_LOG_LEVEL": "WARNING", "LGSP_LOG_FORMAT": "json"}
            await _cli_reads_the_same_index(cli_env, failed, after)
        finally:
            await producer.stop()


async def _cli_reads_the_same_index(env: dict[str, str], failed: list[Envelope],
                                    answers: dict[str, list[str]]) -> None:
    code, out, err = await _lgsp(env, "transactions", "find", "--outcome", "DEAD_LETTERED",
                                 "--json")
    assert code == 0, err
    assert sorted(t["transaction_id"] for t in orjson.loads(out)["transactions"]) == \
        answers["DEAD_LETTERED"]
    code, out, err = await _lgsp(env, "trace", failed[0].transaction_id)
    assert code == 0, err
    assert out.startswith(f"transaction {failed[0].transaction_id}: DEAD_LETTERED")
    code, out, err = await _lgsp(env, "services", "--json")
    assert code == 0, err
    assert orjson.loads(out)["services"][0]["successes"] == 8
    code, out, err = await _lgsp(env, "replay", "--dry-run", "--json")
    assert code == 0, err
    assert sorted(c["transaction_id"] for c in orjson.loads(out)["candidates"]) == \
        answers["DEAD_LETTERED"]
    code, out, err = await _lgsp(env, "index", "rebuild", "--yes")
    assert code == 0, err
    assert "index rebuilt" in out and "11 transactions" in out
    code, out, err = await _lgsp(env, "transactions", "find", "--outcome", "bogus")
    assert code == 1 and err.strip().startswith("lgsp: error: invalid query: outcome:"), err
