"""The generic REST connector: a system with a JSON list delivered with only a JSON config.

Real processes (`lgsp stub`, `lgsp run`), the simulated report portal, and the connector
created from one JSON file with `lgsp connectors create --file`; what counts is what the
national stub received.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import orjson
import pytest

from devkit.localkafka import free_port
from devkit.simulators.json_list import ReportPortalSimulator, portal_connector_config
from gateway.topics import Topics
from tests.conftest import BrokerHandle
from tests.support.auth import bearer
from tests.support.pipeline import stub_stats
from tests.support.processes import ServerProcess, loopback_env, run_lgsp
from tests.support.waiting import wait_for

pytestmark = pytest.mark.e2e

SERVICE = "QG.HTBC.NOPBAOCAO"  # the built-in route of reporting.report_submission
TOKEN = "portal-api-token-for-tests"


@contextlib.asynccontextmanager
async def _running(*servers: ServerProcess) -> AsyncIterator[None]:
    try:
        for server in servers:
            await server.start()
        yield
    finally:
        for server in reversed(servers):
            if server.running:
                await server.stop()


async def test_a_json_list_reaches_the_national_stub_once_each(
    kafka: BrokerHandle, topics: Topics, tmp_path: Path
) -> None:
    portal = ReportPortalSimulator(seed=3, token=TOKEN)
    await portal.start()
    stub_url = f"http://127.0.0.1:{free_port()}"
    admin = f"http://127.0.0.1:{free_port()}"
    env = loopback_env(bootstrap_servers=kafka.bootstrap, topic_prefix=topics.prefix,
                       state_dir=str(tmp_path / "state"), log_format="json",
                       ndxp__url=stub_url, port=admin.rsplit(":", 1)[1], url=admin)
    stub = ServerProcess(["stub", "--port", stub_url.rsplit(":", 1)[1], "--data-dir",
                          str(tmp_path / "stub"), "--no-fsync"],
                         env=env, log_path=tmp_path / "stub.log",
                         ready_prefix="NDXP stub listening")
    gateway = ServerProcess(["run"], env=env, log_path=tmp_path / "gateway.log",
                            ready_prefix="gateway ready")
    try:
        async with _running(stub, gateway):
            portal.generate(40)
            config_file = tmp_path / "portal.json"
            config_file.write_text(json.dumps({
                "name": "report-portal",
                "config": portal_connector_config(portal.list_url, "000.00.00.H12", TOKEN),
            }))
            created = await run_lgsp("connectors", "create", "--file", str(config_file),
                                     env=env)
            assert created.code == 0, created.err

            stats = await wait_for(lambda: stub_stats(stub_url),
                                   lambda s: s["by_service"].get(SERVICE, {}).get("unique") == 40,
                                   timeout_s=60, interval_s=0.5, what="40 reports at the stub")
            portal.generate(10)
            stats = await wait_for(lambda: stub_stats(stub_url),
                                   lambda s: s["by_service"].get(SERVICE, {}).get("unique") == 50,
                                   timeout_s=60, interval_s=0.5, what="50 reports at the stub")
            assert stats["duplicates"] == 0

            # A mapping to a field the message type lacks: refused, naming the key.
            bad = portal_connector_config(portal.list_url, "000.00.00.H12", TOKEN)
            bad["payload.mapping"] = {**bad["payload.mapping"], "reprot_code": "form"}
            refused = await run_lgsp("connectors", "create", "--name", "bad-portal",
                                     "--config-json", orjson.dumps(bad).decode(), env=env)
            assert refused.code == 1
            line = refused.err.strip()
            assert "\n" not in line and "Traceback" not in line
            assert line.startswith("lgsp: error: invalid config for connector 'bad-portal': "
                                   "payload.mapping: "), line
            assert "'reprot_code' not a field of reporting.report_submission" in line
            async with aiohttp.ClientSession() as session, session.post(
                f"{admin}/connectors", json={"name": "bad-portal", "config": bad},
                headers=bearer(tmp_path / "state"),
            ) as resp:
                answer = await resp.json()
            assert (resp.status, answer["error_code"]) == (400, 400)
            assert "payload.mapping: " in answer["message"]
    finally:
        await portal.stop()
