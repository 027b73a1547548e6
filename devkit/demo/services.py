"""Starting the demo's long-running parts; each one's stop goes on the exit stack at once.

So whatever fails later (or a Ctrl-C), the stack stops exactly what was started, in
reverse order: simulators, Prometheus, gateway, stub, and the broker only if the demo
started it.
"""

from __future__ import annotations

__all__ = ["Started", "choose_port", "start_broker", "start_server"]

import asyncio
import contextlib
import re
import socket
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from devkit.demo.errors import DemoError
from devkit.demo.processes import ManagedProcess
from devkit.localkafka import LocalBroker, free_port
from gateway.errors import LocalBrokerError
from gateway.settings import load_settings


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


async def choose_port(preferred: int) -> tuple[int, bool]:
    """`preferred` if free, else a free port; (port, whether it fell back). 0: any port."""
    if preferred == 0:
        return await asyncio.to_thread(free_port), False
    if await asyncio.to_thread(_port_free, preferred):
        return preferred, False
    return await asyncio.to_thread(free_port), True


@dataclass(frozen=True, slots=True)
class Started:
    """A broker the demo uses: where, its log, and whether the demo started it."""

    bootstrap: str
    log: Path | None
    owned: bool
    note: str


async def start_broker(given: str | None, stack: contextlib.AsyncExitStack,
                       on_fetch: Callable[[], None]) -> Started:
    """The given broker, the running local one (`lgsp kafka up`), or a new local one.

    A broker the demo starts is stopped with it (and dies with it: the kernel signals it
    if the demo is killed). `on_fetch` is called first when the jars must be downloaded.
    """
    if given:
        return Started(given, None, False, f"using the broker at {given} (not started by "
                       "the demo, not stopped by it)")
    broker = LocalBroker.from_settings(load_settings())
    status = await asyncio.to_thread(broker.status)
    if status.running:
        return Started(broker.bootstrap, broker.log_path, False,
                       f"reusing the local broker at {broker.bootstrap} (pid {status.pid}; "
                       "`lgsp kafka down` stops it)")
    if not await asyncio.to_thread((broker.lib_dir / ".complete").exists):
        on_fetch()
    try:
        await broker.up(die_with_parent=True)
    except LocalBrokerError as exc:
        raise DemoError(f"{exc}; if a Kafka broker already runs there, pass "
                        f"--bootstrap-servers {broker.bootstrap}") from exc
    stack.push_async_callback(broker.down)
    return Started(broker.bootstrap, broker.log_path, True,
                   f"started the local broker at {broker.bootstrap} (stopped with the demo)")


async def start_server(stack: contextlib.AsyncExitStack, name: str, argv: Sequence[str], *,
                       env: Mapping[str, str], log: Path, ready: str, timeout_s: float,
                       stop_timeout_s: float = 20.0) -> tuple[ManagedProcess, str]:
    """Start a server process and wait for its ready line; (process, first group of it)."""
    process = ManagedProcess(name, argv, env=env, log_path=log)
    # Registered before the start, so a stop request during the start still reaps it.
    stack.push_async_callback(process.stop, stop_timeout_s)
    await process.start()
    found = await process.wait_for_line(re.compile(ready), timeout_s)
    return process, found.group(1)
