"""`lgsp run` is production code only: it loads no module of the development kit."""

from __future__ import annotations

import asyncio
import os
import re
import signal
from pathlib import Path

import aiohttp
import pytest

from devkit.localkafka import free_port
from gateway.topics import Topics
from tests.conftest import BrokerHandle
from tests.support.cli import LGSP
from tests.support.processes import TEST_CLIENT_SECRET

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

# `-X importtime` lines: "import time:  self [us] | cumulative | imported package".
_IMPORTED = re.compile(r"^import time:\s+\d+ \|\s+\d+ \| ( *)(\S+)$", re.MULTILINE)


async def test_a_running_gateway_imported_no_development_module(
    kafka: BrokerHandle, topics: Topics, tmp_path: Path
) -> None:
    port = free_port()
    env = {**os.environ, "LGSP_BOOTSTRAP_SERVERS": kafka.bootstrap,
           "LGSP_TOPIC_PREFIX": topics.prefix, "LGSP_PORT": str(port),
           "LGSP_STATE_DIR": str(tmp_path / "state"), "LGSP_LOG_FORMAT": "json",
           "LGSP_NDXP__CLIENT_SECRET": TEST_CLIENT_SECRET, "PYTHONPROFILEIMPORTTIME": "1"}
    log = tmp_path / "gateway.log"
    with log.open("wb") as stderr:
        proc = await asyncio.create_subprocess_exec(
            LGSP, "run", env=env, stdout=asyncio.subprocess.PIPE, stderr=stderr)
        try:
            assert proc.stdout is not None
            ready = (await asyncio.wait_for(proc.stdout.readline(), 90)).decode()
            assert ready.startswith("gateway ready"), log.read_text(errors="replace")[-2000:]
            async with aiohttp.ClientSession() as session, \
                    session.get(f"http://127.0.0.1:{port}/readyz") as resp:
                assert resp.status == 200
            proc.send_signal(signal.SIGTERM)
            assert await asyncio.wait_for(proc.wait(), 60) == 0
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
    imported = {m.group(2) for m in _IMPORTED.finditer(log.read_text(errors="replace"))}
    assert "gateway.app" in imported and "gateway.router.router" in imported  # it did record
    assert sorted(m for m in imported if m == "devkit" or m.startswith("devkit.")) == []
