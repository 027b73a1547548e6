"""Long-running `lgsp` processes (`lgsp run`, `lgsp stub`) as a user starts them.

A `ServerProcess` starts the command, waits for its one ready line on stdout, and can be
killed (SIGKILL, as a crash), stopped (SIGTERM) and started again with the same command
and environment. Its stderr (the logs) goes to one file, appended across restarts, so a
failing test can show what every incarnation said. The child asks the kernel to kill it
when the test process dies, so an aborted pytest run leaves no gateway behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from gateway.child_process import Memory, die_with_parent, read_memory
from tests.support.cli import LGSP

# SIGKILL rather than the usual SIGTERM: when pytest dies, its servers go at once, with no
# graceful stop to wait for.
_DIE_WITH_PARENT = die_with_parent(signal.SIGKILL)

TEST_CLIENT_SECRET = "lgsp-test-client-secret"


class ServerProcess:
    """One `lgsp <args>` server: started until its ready line, restartable, always reaped."""

    def __init__(
        self,
        args: Sequence[str],
        *,
        env: Mapping[str, str],
        log_path: Path,
        ready_prefix: str,
        ready_timeout_s: float = 90.0,
        command: Sequence[str] = (LGSP,),
    ) -> None:
        self.command = list(command)
        """What runs `lgsp`: its console script, or another environment's interpreter."""
        self.args = list(args)
        self.env = dict(env)
        self.log_path = log_path
        self.ready_prefix = ready_prefix
        self.ready_timeout_s = ready_timeout_s
        self.ready_line = ""
        self.starts = 0
        self._proc: asyncio.subprocess.Process | None = None

    @property
    def pid(self) -> int:
        """The pid of the running incarnation."""
        if self._proc is None or self._proc.returncode is not None:
            raise RuntimeError(f"lgsp {self.args[0]} is not running")
        return self._proc.pid

    @property
    def running(self) -> bool:
        """Whether an incarnation is alive (not yet reaped)."""
        return self._proc is not None and self._proc.returncode is None

    def memory(self) -> Memory:
        """Peak and current memory of the running incarnation; RuntimeError if it is gone."""
        pid = self.pid
        found = read_memory(pid)
        if found is None:
            raise RuntimeError(f"lgsp {self.args[0]} (pid {pid}) has ended")
        return found

    async def start(self) -> str:
        """Start the command and return its ready line; fails with the log tail if none."""
        if self.running:
            raise RuntimeError(f"lgsp {self.args[0]} is already running")
        self.starts += 1
        with await asyncio.to_thread(self.log_path.open, "ab") as log:
            log.write(f"\n===== start {self.starts}: lgsp {' '.join(self.args)}\n".encode())
            log.flush()
            self._proc = await asyncio.create_subprocess_exec(
                *self.command, *self.args, env=self.env, stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE, stderr=log, preexec_fn=_DIE_WITH_PARENT,
            )
        assert self._proc.stdout is not None
        try:
            raw = await asyncio.wait_for(self._proc.stdout.readline(), self.ready_timeout_s)
        except TimeoutError:
            await self.kill()
            raise AssertionError(
                f"lgsp {self.args[0]} printed no ready line within {self.ready_timeout_s}s\n"
                f"{await self.log_tail()}") from None
        line = raw.decode(errors="replace").strip()
        if not line.startswith(self.ready_prefix):
            await self.kill()
            raise AssertionError(f"lgsp {self.args[0]} did not get ready (stdout {line!r})\n"
                                 f"{await self.log_tail()}")
        self.ready_line = line
        return line

    async def kill(self) -> None:
        """SIGKILL, as a crash or the OOM killer would; waits until it is reaped."""
        proc = self._proc
        if proc is None or proc.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await proc.wait()

    async def stop(self, timeout_s: float = 30.0) -> int | None:
        """SIGTERM and wait (SIGKILL if it does not end in time); the exit code, or None."""
        proc = self._proc
        if proc is None:
            return None
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), timeout_s)
            except TimeoutError:
                await self.kill()
        return proc.returncode

    async def restart_after_kill(self) -> str:
        """SIGKILL, then start again with the same command and environment."""
        await self.kill()
        return await self.start()

    async def log_tail(self, lines: int = 60) -> str:
        """The last lines of the log file (for failure messages)."""
        def tail() -> str:
            try:
                text = self.log_path.read_text(errors="replace")
            except OSError:
                return "(no log)"
            return "\n".join(text.splitlines()[-lines:])
        return await asyncio.to_thread(tail)

    async def log_text(self) -> str:
        """The whole log file."""
        return await asyncio.to_thread(self.log_path.read_text, errors="replace")


def loopback_env(base: Mapping[str, str] | None = None, **settings: str) -> dict[str, str]:
    """The process environment with `LGSP_*` settings, never inheriting stray `LGSP_*` ones.

    A developer's shell may export LGSP_BOOTSTRAP_SERVERS or LGSP_NDXP__URL for the demo;
    a fault test must talk only to its own broker and stub on 127.0.0.1.
    """
    env = {k: v for k, v in (base if base is not None else os.environ).items()
           if not k.startswith("LGSP_")}
    env.update({f"LGSP_{name.upper()}": value for name, value in settings.items()})
    # The stub and the gateway started from this environment share a test secret, since
    # `lgsp run` refuses the placeholder default.
    env.setdefault("LGSP_NDXP__CLIENT_SECRET", TEST_CLIENT_SECRET)
    return env


@dataclass(frozen=True, slots=True)
class Finished:
    """What a finished `lgsp` command left behind."""

    code: int
    out: str
    err: str


async def run_lgsp(*args: str, env: Mapping[str, str], timeout_s: float = 120.0) -> Finished:
    """Run `lgsp ARGS...` to completion without blocking the event loop; killed on timeout."""
    proc = await asyncio.create_subprocess_exec(
        LGSP, *args, env=dict(env), stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        preexec_fn=_DIE_WITH_PARENT,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout_s)
    except BaseException:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        raise
    assert proc.returncode is not None
    return Finished(proc.returncode, out.decode(errors="replace"), err.decode(errors="replace"))
