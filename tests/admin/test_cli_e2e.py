"""`lgsp run` and `lgsp connectors ...` as real processes, as an integrator uses them.

The gateway runs with tests/plugins/lgsp-example-connector pip-installed on its
PYTHONPATH, so the connector created here comes from a separately installed package
found through its entry point.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import orjson
import pytest

from devkit.localkafka import free_port
from gateway.contracts import Codec, Envelope
from gateway.kafka import read_topic
from gateway.topics import Topics
from tests.conftest import BrokerHandle
from tests.support.auth import bearer
from tests.support.cli import LGSP
from tests.support.processes import TEST_CLIENT_SECRET
from tests.support.waiting import wait_for

pytestmark = pytest.mark.e2e


@dataclass(frozen=True, slots=True)
class Result:
    """What a finished `lgsp` command left behind."""

    code: int
    out: str
    err: str

    def one_line_error(self) -> str:
        """The single `lgsp...: error:` line on stderr; fails on tracebacks or extra lines."""
        lines = [ln for ln in self.err.splitlines() if ln.startswith("lgsp")]
        assert len(lines) == 1, self.err
        assert "Traceback" not in self.err
        return lines[0]


async def lgsp(*args: str, env: dict[str, str]) -> Result:
    """Run `lgsp ARGS...` to completion without blocking the event loop."""
    proc = await asyncio.create_subprocess_exec(
        LGSP, *args, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return Result(proc.returncode, out.decode(), err.decode())


@pytest.fixture
def env(kafka: BrokerHandle, topics: Topics, example_plugin_path: Path,
        tmp_path: Path) -> dict[str, str]:
    """Environment of the gateway and the CLI: broker, topic prefix, port, the plugin, and
    a state dir of their own (the CLI reads the gateway's first-start admin token there)."""
    port = free_port()
    return {
        **{k: v for k, v in os.environ.items() if k != "LGSP_TOKEN"},
        "LGSP_STATE_DIR": str(tmp_path / "state"),
        "LGSP_BOOTSTRAP_SERVERS": kafka.bootstrap,
        "LGSP_TOPIC_PREFIX": topics.prefix,
        "LGSP_PORT": str(port),
        "LGSP_LOG_FORMAT": "json",
        "PYTHONPATH": str(example_plugin_path),
        "LGSP_NDXP__CLIENT_SECRET": TEST_CLIENT_SECRET,
    }


@asynccontextmanager
async def running_gateway(
    env: dict[str, str], log: Path
) -> AsyncIterator[tuple[asyncio.subprocess.Process, str]]:
    """`lgsp run` until its ready line; yields (process, ready line); kills it if left."""
    with await asyncio.to_thread(log.open, "wb") as stderr:
        proc = await asyncio.create_subprocess_exec(
            LGSP, "run", env=env, stdout=asyncio.subprocess.PIPE, stderr=stderr)
        try:
            assert proc.stdout is not None
            line = (await asyncio.wait_for(proc.stdout.readline(), 60)).decode().strip()
            if not line:
                pytest.fail(f"lgsp run ended without a ready line:\n{await _text(log)}")
            yield proc, line
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()


async def test_run_then_manage_connectors_from_the_cli(
    env: dict[str, str], tmp_path: Path, codec: Codec, topics: Topics, kafka: BrokerHandle
) -> None:
    url = f"http://127.0.0.1:{env['LGSP_PORT']}"
    log = tmp_path / "gateway.log"
    async with running_gateway(env, log) as (proc, ready):
        assert ready == f"gateway ready: admin API {url} (metrics /metrics)"

        plugins = await lgsp("connectors", "plugins", env=env)
        assert plugins.code == 0, plugins.err
        example = next(p for p in orjson.loads(plugins.out) if p["class"] == "example")
        assert example["version"] == "0.1.0"
        assert example["class_path"] == "lgsp_example_connector.ExampleConnector"

        name = f"{topics.prefix}beat"
        created = await lgsp("connectors", "create", "--name", name,
                             "--config-json", '{"connector.class": "example"}',
                             "--set", "source.agency.code=000.00.00.H12",
                             "--set", "interval.ms=20", "--url", url, env=env)
        assert created.code == 0, created.err
        assert orjson.loads(created.out)["config"] == {
            "connector.class": "example", "source.agency.code": "000.00.00.H12",
            "interval.ms": "20"}
        await _wait_state(name, "RUNNING", env)

        listing = await lgsp("connectors", "list", env=env)
        assert listing.code == 0
        assert listing.out.splitlines()[0].split() == ["NAME", "PLUGIN", "STATE", "ERROR"]
        assert listing.out.splitlines()[1].split() == [name, "example", "RUNNING"]
        table = await lgsp("connectors", "status", name, env=env)
        assert table.code == 0 and "RUNNING" in table.out and "task 0" in table.out

        paused = await lgsp("connectors", "pause", name, env=env)
        assert (paused.code, paused.out.strip()) == (0, f"connector {name} paused")
        await _wait_state(name, "PAUSED", env)
        resumed = await lgsp("connectors", "resume", name, env=env)
        assert (resumed.code, resumed.out.strip()) == (0, f"connector {name} resumed")
        await _wait_state(name, "RUNNING", env)
        restarted = await lgsp("connectors", "restart", name, env=env)
        assert restarted.code == 0, restarted.err

        changed = await lgsp("connectors", "config", name, "--set", "interval.ms=30", env=env)
        assert changed.code == 0, changed.err
        assert orjson.loads(changed.out)["config"]["interval.ms"] == "30"
        assert orjson.loads(changed.out)["config"]["source.agency.code"] == "000.00.00.H12"

        invalid = await lgsp("connectors", "validate", "example",
                             "--set", "source.agency.code=h12", "--set", "interval.ms=1",
                             env=env)
        assert invalid.code == 1
        assert orjson.loads(invalid.out)["error_count"] == 2
        assert invalid.one_line_error().startswith(
            "lgsp: error: 2 invalid config value(s): source.agency.code: ")

        ghost = await lgsp("connectors", "status", "ghost", env=env)
        assert ghost.code == 1
        assert ghost.one_line_error() == "lgsp: error: connector 'ghost' not found"
        assert ghost.out == ""
        refused = await lgsp("connectors", "create", "--name", "bad",
                             "--set", "connector.class=example", env=env)
        assert refused.code == 1
        assert refused.one_line_error() == (
            "lgsp: error: invalid config for connector 'bad': source.agency.code: required")

        deleted = await lgsp("connectors", "delete", name, env=env)
        assert (deleted.code, deleted.out.strip()) == (0, f"connector {name} deleted")
        empty = await lgsp("connectors", "list", env=env)
        assert (empty.code, empty.out.strip()) == (0, "no connectors")

        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(proc.wait(), 20)
        assert code == 0, await _text(log)
        assert time.monotonic() - started < 10, "SIGTERM shuts down promptly"

    text = await _text(log)
    logged = [orjson.loads(line) for line in text.splitlines() if line.startswith("{")]
    events = [entry["event"] for entry in logged]
    assert "gateway ready" in events
    assert events[-1] == "gateway stopped"
    assert "Traceback" not in text

    records = await read_topic(kafka.bootstrap, topics.source(name))
    assert records, "the example connector published"
    envelope = Envelope.decode(codec, records[0].value or b"")
    assert (envelope.connector, envelope.source_system) == (name, "example")
    assert envelope.message_type == "example.heartbeat"


async def _text(path: Path) -> str:
    return await asyncio.to_thread(path.read_text)


async def _wait_state(name: str, state: str, env: dict[str, str]) -> None:
    """Poll the status over HTTP (cheaper than a CLI process per probe)."""
    url = f"http://127.0.0.1:{env['LGSP_PORT']}/connectors/{name}/status"

    async def probe() -> str:
        headers = bearer(Path(env["LGSP_STATE_DIR"]))
        async with aiohttp.ClientSession(headers=headers) as session, \
                session.get(url) as resp:
            return str((await resp.json())["connector"]["state"])

    await wait_for(probe, lambda s: s == state, timeout_s=20, what=f"{name} {state}")


async def test_unreachable_things_and_bad_usage_are_one_line_errors(env: dict[str, str]) -> None:
    dead = f"127.0.0.1:{free_port()}"
    no_kafka = await lgsp("run", "--bootstrap-servers", dead, "--port", "0", env=env)
    assert no_kafka.code == 1
    assert no_kafka.one_line_error().startswith(
        f"lgsp: error: cannot connect to Kafka at {dead}: ")

    usage = await lgsp("run", "--port", "70000", env=env)
    assert usage.code == 2
    assert usage.one_line_error() == (
        "lgsp run: error: argument --port: 70000 is not a port number (0-65535) "
        "(see lgsp run --help)")

    no_gateway = await lgsp("connectors", "list", "--url", f"http://{dead}", env=env)
    assert no_gateway.code == 1
    assert no_gateway.one_line_error() == (
        f"lgsp: error: cannot reach the gateway admin API at http://{dead}: connection "
        "refused (is `lgsp run` running? set --url or LGSP_URL)")
