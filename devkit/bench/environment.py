"""What the benchmark runs against: a broker, the NDXP stub and the gateway process.

- The broker: `--bootstrap-servers` when given, else a private single-node broker
  (the project's `LocalBroker`, free ports, its own data folder, wiped afterwards).
- The stub: a separate `lgsp stub` process, so the gateway and the national endpoint
  never share a core's time unfairly; or, for the `--quick` smoke size, a `StubServer`
  in the benchmark's own process (start-up in milliseconds instead of seconds).
- The gateway: `lgsp run` as its own process (admin API, connectors, router), so its
  memory is its own (`/proc/<pid>/status`) and the load generator does not share it.

Every part is started inside an `AsyncExitStack`, so whatever happens (failure, Ctrl-C)
everything started is stopped again, in reverse order.
"""

from __future__ import annotations

__all__ = ["GatewayProcess", "start_broker", "start_stub"]

import asyncio
import contextlib
import shutil
import sys
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import aiohttp

from devkit.bench.measure import BenchError
from devkit.bench.processes import ChildProcess, child_env
from devkit.localkafka import LocalBroker, free_port
from devkit.stub import StubConfig, StubServer
from gateway.auth import default_tokens_file, read_admin_token
from gateway.child_process import Memory, lgsp_command
from gateway.ndxp.wire import READYZ_PATH
from gateway.settings import Settings

_READY_TIMEOUT_S = 60.0


@contextlib.asynccontextmanager
async def start_broker(settings: Settings, home: Path) -> AsyncIterator[tuple[str, int | None]]:
    """A private broker for this run; yields its bootstrap address and process id, then
    stops and wipes it."""
    broker = LocalBroker(
        home, lib_cache=settings.cache_dir / "kafka", kafka_version=settings.broker.kafka_version,
        port=free_port(), controller_port=free_port(), heap=settings.broker.heap,
        start_timeout_s=settings.broker.start_timeout_s,
    )
    try:
        bootstrap = await broker.up(die_with_parent=True)
        yield bootstrap, broker.status().pid
    finally:
        await broker.down()
        await asyncio.to_thread(shutil.rmtree, home / "data", True)


@contextlib.asynccontextmanager
async def start_stub(*, in_process: bool, data_dir: Path, secret: str, fsync: bool,
                     log_dir: Path) -> AsyncIterator[tuple[str, ChildProcess | None]]:
    """The NDXP stub; yields its URL and its process (None when in-process)."""
    port = free_port()
    if in_process:
        config = StubConfig(data_dir=data_dir, port=port, client_secret=secret, fsync=fsync)
        async with StubServer(config) as server:
            yield server.url, None
        return
    argv = [*lgsp_command(), "--log-format", "json", "stub", "--host", "127.0.0.1",
            "--port", str(port), "--data-dir", str(data_dir)]
    if not fsync:
        argv.append("--no-fsync")
    stub = ChildProcess("the NDXP stub", argv, env=child_env({"LGSP_NDXP__CLIENT_SECRET": secret}),
                        log_path=log_dir / "stub.log")
    url = f"http://127.0.0.1:{port}"
    try:
        await stub.start()
        await stub.wait_ready(url + READYZ_PATH, _READY_TIMEOUT_S)
        yield url, stub
    finally:
        await stub.stop()


class GatewayProcess:
    """`lgsp run` as a child process, and the admin API calls the benchmark makes to it."""

    def __init__(self, settings: Settings, *, log_dir: Path, config: Path | None,
                 profile: Path | None, name: str = "gateway",
                 roles: str = "connectors,router", batching: bool = False) -> None:
        self.port = free_port()
        self.log_dir = log_dir
        self._profile = profile
        self.url = f"http://127.0.0.1:{self.port}"
        self._state_dir = settings.state_dir
        env = {
            "LGSP_BOOTSTRAP_SERVERS": settings.bootstrap_servers,
            "LGSP_TOPIC_PREFIX": settings.topic_prefix,
            "LGSP_HOST": "127.0.0.1",
            "LGSP_PORT": str(self.port),
            "LGSP_NDXP__URL": settings.ndxp.url,
            "LGSP_NDXP__CLIENT_SECRET": settings.ndxp.client_secret.get_secret_value(),
            "LGSP_STATE_DIR": str(settings.state_dir),
            # Set, whatever the caller's environment says: the benchmark's main process is
            # a single machine's gateway (connectors and router); extra ones route only.
            "LGSP_ROLES": roles,
            # Per-request unless asked: the drain, ingest and latency figures stay
            # comparable with baseline H; the `batched` scenario turns batching on.
            "LGSP_ROUTER__BATCHING__ENABLED": "true" if batching else "false",
        }
        lgsp = lgsp_command()
        command = [*lgsp, "--log-format", "json", "run"]
        if config is not None:
            command += ["--config", str(config)]
        if profile is not None:
            # pyinstrument samples the whole process and saves the session when the
            # gateway exits after SIGTERM (a clean stop); `pyinstrument --load=FILE`
            # renders it as text or HTML afterwards. It takes what the interpreter
            # would (the console script's file, or `-c PROGRAM`), so the interpreter
            # itself is dropped from the front of the command.
            script = command[1:] if lgsp[0] == sys.executable else command
            command = [sys.executable, "-m", "pyinstrument", "-r", "pyisession",
                       "-o", str(profile), *script]
        self.process = ChildProcess(f"the {name} (lgsp run)", command, env=child_env(env),
                                    log_path=log_dir / f"{name}.log")

    async def start(self) -> None:
        """Start and wait for /readyz (Kafka connected, router polling)."""
        await self.process.start()
        await self.process.wait_ready(self.url + READYZ_PATH, _READY_TIMEOUT_S)

    async def stop(self) -> None:
        """SIGTERM: the gateway drains in-flight work and exits; SIGKILL if it hangs."""
        # A profiled gateway renders its report after exiting: give it time for that.
        await self.process.stop(timeout_s=30.0 if self._profile is None else 300.0)

    @property
    def started(self) -> bool:
        """Whether `start` ran (and `stop` not since)."""
        return self.process.started

    def alive(self) -> bool:
        """False once the process has ended on its own (True before it starts)."""
        return not self.process.exited

    def memory(self) -> Memory:
        """Its resident memory now and at its peak."""
        found = self.process.memory()
        if found is None:
            raise BenchError(f"the gateway process is gone; see {self.process.log_path}")
        return found

    async def create_connector(self, session: aiohttp.ClientSession, name: str,
                               config: Mapping[str, Any]) -> None:
        """POST /connectors, then wait until the connector reports RUNNING."""
        # The gateway's first-start admin token, in the state dir it was given.
        token = read_admin_token(default_tokens_file(self._state_dir))
        auth = {"Authorization": f"Bearer {token}"} if token else {}
        async with session.post(f"{self.url}/connectors", headers=auth,
                                json={"name": name, "config": dict(config)}) as resp:
            if resp.status != 201:
                raise BenchError(f"creating connector {name} failed: HTTP {resp.status} "
                                 f"{(await resp.text())[:300]}")
        for _ in range(int(_READY_TIMEOUT_S * 10)):
            async with session.get(f"{self.url}/connectors/{name}/status",
                                   headers=auth) as resp:
                state = (await resp.json())["connector"]["state"]
            if state == "RUNNING":
                return
            if state == "FAILED":
                raise BenchError(f"connector {name} failed to start; see {self.process.log_path}")
            await asyncio.sleep(0.1)
        raise BenchError(f"connector {name} did not start within {_READY_TIMEOUT_S:.0f}s")
