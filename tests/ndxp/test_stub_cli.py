"""`lgsp stub` as a user runs it: help, bad arguments, serve, stop on SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from devkit.localkafka import free_port
from gateway.errors import TransientForwardError
from gateway.ndxp import NdxpClient, OutboundTransaction
from tests.ndxp.conftest import SECRET, settings_for
from tests.ndxp.factories import make_tx
from tests.support.cli import LGSP, lgsp
from tests.support.waiting import wait_for

pytestmark = pytest.mark.e2e

DOCS = "QG.VBDT.GUINHAN"


def test_help_describes_the_options() -> None:
    result = lgsp("stub", "--help")
    assert result.returncode == 0
    for option in ("--port", "--host", "--data-dir", "--client-secret", "--allow-ips"):
        assert option in result.stdout


@pytest.mark.parametrize(
    ("args", "names"),
    [(["--port", "eighty"], "--port"), (["--port", "70000"], "--port"),
     (["--allow-ips", "10.0.0.300"], "--allow-ips"), (["--bogus"], "--bogus")],
)
def test_a_bad_argument_is_one_line_and_exit_2(args: list[str], names: str) -> None:
    result = lgsp("stub", *args)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert names in result.stderr
    assert "Traceback" not in result.stderr


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LGSP_")}
    return {**env, "LGSP_LOG_FORMAT": "json", "LGSP_NDXP__CLIENT_SECRET": SECRET, **extra}


@contextlib.asynccontextmanager
async def _stub_process(
    *args: str, env: dict[str, str] | None = None
) -> AsyncIterator[asyncio.subprocess.Process]:
    process = await asyncio.create_subprocess_exec(
        LGSP, "stub", *args, env=env or _env(),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        yield process
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def _readyz(url: str) -> int:
    try:
        async with aiohttp.ClientSession() as session, session.get(f"{url}/readyz") as response:
            return response.status
    except aiohttp.ClientConnectionError:
        return 0


async def test_the_stub_serves_then_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    async with _stub_process("--port", str(port), "--data-dir", str(tmp_path)) as process:
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), 15)
        assert line.decode().startswith(f"NDXP stub listening on {url}")
        await wait_for(lambda: _readyz(url), lambda status: status == 200,
                       timeout_s=10, interval_s=0.05, what="stub ready")

        async with NdxpClient(settings_for(url)) as client:
            receipt = await client.submit("QG.HTBC.NOPBAOCAO", make_tx())
        assert receipt.duplicate is False

        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 15) == 0
        assert process.stderr is not None
        stderr = (await process.stderr.read()).decode()
    assert "Traceback" not in stderr
    assert "stub stopped" in stderr
    assert receipt.transaction_id in (tmp_path / "idempotency.journal").read_text()


async def test_a_busy_port_or_data_dir_is_one_line_and_exit_1(tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    async with _stub_process("--port", str(port), "--data-dir", str(tmp_path / "a")):
        await wait_for(lambda: _readyz(url), lambda status: status == 200,
                       timeout_s=15, interval_s=0.05, what="stub ready")
        for args, says in (
            (["--port", str(port), "--data-dir", str(tmp_path / "b")], "cannot listen"),
            (["--port", str(free_port()), "--data-dir", str(tmp_path / "a")], "in use"),
        ):
            async with _stub_process(*args) as second:
                _, err = await asyncio.wait_for(second.communicate(), 15)
            lines = [ln for ln in err.decode().splitlines() if ln.startswith("lgsp: error:")]
            assert second.returncode == 1
            assert len(lines) == 1
            assert says in lines[0]
            assert "Traceback" not in err.decode()


async def test_a_journal_write_failure_is_a_503_and_the_stub_carries_on(tmp_path: Path) -> None:
    # A real disk failure: the shell's file-size limit (4 x 512 bytes) makes the journal
    # write fail with EFBIG once about a dozen keys are in it.
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = f'ulimit -f 4 && exec "{LGSP}" stub --port {port} --data-dir "{tmp_path}"'
    process = await asyncio.create_subprocess_exec(
        "/bin/sh", "-c", command, env=_env(),
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
    try:
        await wait_for(lambda: _readyz(url), lambda status: status == 200,
                       timeout_s=15, interval_s=0.05, what="stub ready")
        async with NdxpClient(settings_for(url)) as client:
            txs = [make_tx() for _ in range(30)]
            outcomes = [await _outcome(client, tx) for tx in txs]
            delivered = [tx for tx, ok in zip(txs, outcomes, strict=True) if ok is True]
            failed = [ok for ok in outcomes if ok is not True]
            assert 0 < len(delivered) < 30
            assert all(isinstance(error, TransientForwardError) and error.status == 503
                       and "could not record" in str(error) for error in failed)
            # Keys already durable are still answered: the stub did not fall over.
            assert (await client.submit(DOCS, delivered[0])).duplicate is True
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 15) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    lines = (tmp_path / "idempotency.journal").read_text().splitlines()
    assert [line.split('"')[3] for line in lines] == [tx.transaction_id for tx in delivered]



async def _outcome(client: NdxpClient, tx: OutboundTransaction) -> bool | TransientForwardError:
    try:
        await client.submit(DOCS, tx)
    except TransientForwardError as exc:
        return exc
    return True
