"""`lgsp simulate ...` as a user runs it: help, one-line errors, each simulator for real."""

from __future__ import annotations

import asyncio
import json
import os
import signal
from pathlib import Path

import aiohttp
import pytest

from connectors.one_stop import OneStopConnector
from gateway.testing.rig import Rig
from tests.support.cli import LGSP, lgsp

SECRET = "cli-smoke-webhook-secret"


async def _run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    """Run `lgsp ARGS...` without blocking the loop (a webhook in this loop must answer)."""
    proc = await asyncio.create_subprocess_exec(
        LGSP, *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env)
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


@pytest.mark.parametrize("system", ["ioffice", "one-stop", "reporting", "report-portal"])
def test_every_simulator_has_help(system: str) -> None:
    result = lgsp("simulate", system, "--help")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"usage: lgsp simulate {system}")


@pytest.mark.parametrize("args", [
    ("simulate", "mainframe"),
    ("simulate", "reporting", "--dir", ".", "--count", "0"),
    ("simulate", "one-stop", "--target", "http://x", "--invalid-share", "1.5"),
    ("simulate", "ioffice", "--port", "70000"),
])
def test_a_bad_argument_is_one_line_and_exit_2(args: tuple[str, ...]) -> None:
    result = lgsp(*args)
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "Traceback" not in result.stderr


def test_one_stop_without_a_secret_is_one_line_and_exit_1() -> None:
    env = {k: v for k, v in os.environ.items() if k != "LGSP_WEBHOOK_SECRET"}
    result = lgsp("simulate", "one-stop", "--target", "http://127.0.0.1:9/x", env=env)
    assert result.returncode == 1
    assert result.stderr.strip() == "lgsp: error: --secret (or LGSP_WEBHOOK_SECRET) is required"


async def test_reporting_writes_files_atomically(tmp_path: Path) -> None:
    code, out, err = await _run("simulate", "reporting", "--dir", str(tmp_path), "--count", "4",
                                "--format", "csv", "--seed", "1")
    assert code == 0, err
    assert out.startswith("files=4 ")
    names = await asyncio.to_thread(lambda: sorted(p.name for p in tmp_path.iterdir()))
    assert len(names) == 4
    assert all(n.endswith(".csv") and not n.startswith(".") for n in names)


async def test_ioffice_serves_until_sigterm() -> None:
    proc = await asyncio.create_subprocess_exec(
        LGSP, "simulate", "ioffice", "--port", "0", "--rate", "0", "--count", "5",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    assert proc.stdout is not None
    try:
        line = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode()
        url = line.split()[3]
        async with aiohttp.ClientSession() as session, session.get(url) as resp:
            page = await resp.json()
        assert len(page["items"]) == 5
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0
    assert "documents=5" in out.decode()


async def test_report_portal_serves_and_writes_its_connector_config(tmp_path: Path) -> None:
    config_file = tmp_path / "portal.json"
    proc = await asyncio.create_subprocess_exec(
        LGSP, "simulate", "report-portal", "--port", "0", "--count", "7",
        "--config-out", str(config_file),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    assert proc.stdout is not None
    try:
        wrote = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode().strip()
        assert wrote == f"wrote {config_file}"
        url = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode().split()[4]
        async with aiohttp.ClientSession() as session, session.get(
            url, params={"after": "5", "limit": "10"}
        ) as resp:
            page = await resp.json()
        assert [r["seq"] for r in page["data"]] == [6, 7]
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0
    assert "records=7" in out.decode()
    written = json.loads(await asyncio.to_thread(config_file.read_text))
    assert written["config"]["connector.class"] == "rest-poll"
    assert written["config"]["api.url"] == url


@pytest.mark.integration
async def test_one_stop_pushes_to_a_running_webhook(rig: Rig) -> None:
    config = {"connector.class": "one-stop", "source.agency.code": "000.00.00.H12",
              "listen.port": 0, "webhook.secret": SECRET}
    async with rig.running(OneStopConnector, config, name="cli") as running:
        assert isinstance(running.connector, OneStopConnector)
        code, out, err = await _run(
            "simulate", "one-stop", "--target", running.connector.webhook_url,
            "--count", "20", "--invalid-share", "0.3", "--resend-share", "0.2", "--seed", "3",
            env={**os.environ, "LGSP_WEBHOOK_SECRET": SECRET})
        assert code == 0, err
        fields = dict(part.split("=") for part in out.split())
        found = await rig.wait_published("cli", 20 + int(fields["resent"]))
    assert fields["sent"] == "20"
    assert int(fields["accepted"]) == 20 + int(fields["resent"])
    assert fields["rejected"] == fields["invalid"]
    assert int(fields["invalid"]) > 0
    assert len({p.envelope.transaction_id for p in found}) == 20
