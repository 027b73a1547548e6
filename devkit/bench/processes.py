"""Child processes the benchmark starts (`lgsp stub`, `lgsp run`): owned and always stopped.

Each child gets its own session, so a Ctrl-C in the terminal reaches only the benchmark,
which then stops the children in order (gateway, stub, broker) from its `finally`
blocks. Should the benchmark itself die without that chance, the kernel sends the child
SIGTERM (PR_SET_PDEATHSIG), so no child outlives it.
"""

from __future__ import annotations

__all__ = ["ChildProcess", "child_env", "read_cpu_s"]

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import aiohttp

from gateway.child_process import Memory, die_with_parent, read_memory
from gateway.errors import GatewayError

_TICKS_PER_S = os.sysconf("SC_CLK_TCK")


def read_cpu_s(pid: int) -> float | None:
    """User plus system CPU seconds a live process has used, or None once it is gone."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            # The command name may hold spaces; the fields after it are space-separated.
            fields = stat.read().rpartition(")")[2].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / _TICKS_PER_S


class ChildProcess:
    """One `lgsp ...` child with its output in a log file; `stop` always reaps it."""

    def __init__(self, name: str, argv: Sequence[str], *, env: Mapping[str, str],
                 log_path: Path) -> None:
        self.name = name
        self._argv = list(argv)
        self._env = dict(env)
        self.log_path = log_path
        self._proc: asyncio.subprocess.Process | None = None

    @property
    def pid(self) -> int:
        """The child's process id (valid once started)."""
        if self._proc is None:
            raise RuntimeError(f"{self.name} is not started")
        return self._proc.pid

    def memory(self) -> Memory | None:
        """The child's resident memory now and at its peak."""
        return read_memory(self.pid) if self._proc is not None else None

    def cpu_s(self) -> float | None:
        """CPU seconds the child has used (None before start and after exit)."""
        return read_cpu_s(self.pid) if self._proc is not None else None

    async def start(self) -> None:
        """Spawn the child; its stdout and stderr go to `log_path`."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        # The file is opened for the child to inherit; the parent closes its copy at once.
        with self.log_path.open("ab") as log:
            self._proc = await asyncio.create_subprocess_exec(
                *self._argv, env=self._env, stdin=asyncio.subprocess.DEVNULL,
                stdout=log, stderr=asyncio.subprocess.STDOUT, start_new_session=True,
                preexec_fn=die_with_parent(),
            )

    async def wait_ready(self, url: str, timeout_s: float) -> None:
        """Poll `url` until it answers 200; GatewayError if the child dies or is too slow."""
        deadline = time.monotonic() + timeout_s
        timeout = aiohttp.ClientTimeout(total=2)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            while True:
                if self._proc is None or self._proc.returncode is not None:
                    raise GatewayError(f"{self.name} exited during start-up; see {self.log_path}")
                with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                    async with session.get(url) as resp:
                        if resp.status == 200:
                            return
                if time.monotonic() > deadline:
                    raise GatewayError(
                        f"{self.name} was not ready within {timeout_s:.0f}s; see {self.log_path}"
                    )
                await asyncio.sleep(0.1)

    @property
    def started(self) -> bool:
        """Whether the child was started (and not stopped since)."""
        return self._proc is not None

    @property
    def exited(self) -> bool:
        """Whether the child was started and has ended on its own."""
        return self._proc is not None and self._proc.returncode is not None

    async def stop(self, timeout_s: float = 30.0) -> int | None:
        """SIGTERM, wait (bounded), then SIGKILL; returns the exit code."""
        proc, self._proc = self._proc, None
        if proc is None:
            return None
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), timeout_s)
            except TimeoutError:
                _kill(proc)
                await proc.wait()
            except asyncio.CancelledError:
                # Interrupted while waiting for a clean exit: leave no child behind.
                _kill(proc)
                raise
        return proc.returncode


def _kill(proc: asyncio.subprocess.Process) -> None:
    with contextlib.suppress(ProcessLookupError):
        proc.kill()


def child_env(overrides: Mapping[str, str]) -> dict[str, str]:
    """This process's environment with `overrides` on top (LGSP_* settings of the child)."""
    return {**os.environ, **overrides}
