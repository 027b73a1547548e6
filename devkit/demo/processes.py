"""Child processes of the demo: logged to a file each, stopped in order, never orphaned.

Every child runs in its own session, so a Ctrl-C in the terminal reaches only the demo,
which then stops the children itself in reverse start order (SIGTERM, then SIGKILL after
a grace period). Each child also asks the kernel for SIGTERM when the demo dies, so even
a `kill -9` of the demo leaves nothing running.
"""

from __future__ import annotations

__all__ = ["ManagedProcess", "environment", "run_command"]

import asyncio
import contextlib
import os
import re
import signal
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from devkit.demo.errors import DemoError
from gateway.child_process import die_with_parent

_POLL_S = 0.1
_TAIL_BYTES = 64 * 1024


def _last_line(text: str) -> str:
    """The line that best says what went wrong: an `lgsp: error:` line, else the last one."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    for line in reversed(lines):
        if line.startswith("lgsp: error:"):
            return line
    return lines[-1][:300] if lines else "no output"


def _read_from(path: Path, offset: int) -> tuple[bytes, int]:
    with path.open("rb") as handle:
        handle.seek(offset)
        data = handle.read()
    return data, offset + len(data)


def _read_tail(path: Path) -> str:
    try:
        with path.open("rb") as handle:
            handle.seek(max(0, path.stat().st_size - _TAIL_BYTES))
            return handle.read().decode(errors="replace")
    except OSError:
        return ""


class ManagedProcess:
    """One child process whose stdout and stderr go to `log_path` (appended)."""

    def __init__(self, name: str, argv: Sequence[str], *, env: Mapping[str, str],
                 log_path: Path) -> None:
        self.name = name
        self.argv = tuple(argv)
        self.log_path = log_path
        self._env = dict(env)
        self._proc: asyncio.subprocess.Process | None = None
        self._offset = 0

    @property
    def pid(self) -> int | None:
        """The child's pid once started."""
        return self._proc.pid if self._proc is not None else None

    @property
    def returncode(self) -> int | None:
        """The exit code once it ended, else None."""
        return self._proc.returncode if self._proc is not None else None

    async def start(self) -> None:
        """Start the child; its output is appended to the log file."""
        await asyncio.to_thread(self.log_path.parent.mkdir, parents=True, exist_ok=True)
        log = await asyncio.to_thread(self.log_path.open, "ab")
        try:
            self._offset = await asyncio.to_thread(lambda: self.log_path.stat().st_size)
            try:
                self._proc = await asyncio.create_subprocess_exec(
                    *self.argv, env=self._env, stdin=asyncio.subprocess.DEVNULL,
                    stdout=log, stderr=asyncio.subprocess.STDOUT,
                    start_new_session=True, preexec_fn=die_with_parent(),
                )
            except OSError as exc:
                raise DemoError(f"cannot start {self.name} ({self.argv[0]}): "
                                f"{exc.strerror or exc}") from exc
        finally:
            await asyncio.to_thread(log.close)

    async def wait_for_line(self, pattern: re.Pattern[str], timeout_s: float) -> re.Match[str]:
        """Wait until the child writes a line matching `pattern`; DemoError if it never does."""
        deadline = time.monotonic() + timeout_s
        pending = ""
        while True:
            data, self._offset = await asyncio.to_thread(_read_from, self.log_path, self._offset)
            pending += data.decode(errors="replace")
            *complete, pending = pending.split("\n")
            for line in complete:
                found = pattern.search(line)
                if found:
                    return found
            if self.returncode is not None:
                raise DemoError(f"{self.name} exited with code {self.returncode} before it was "
                                f"ready: {await self.last_line()} (log {self.log_path})")
            if time.monotonic() > deadline:
                raise DemoError(f"{self.name} was not ready within {timeout_s:.0f} s: "
                                f"{await self.last_line()} (log {self.log_path})")
            await asyncio.sleep(_POLL_S)

    async def last_line(self) -> str:
        """The most telling line of the log so far."""
        return _last_line(await asyncio.to_thread(_read_tail, self.log_path))

    async def output(self) -> str:
        """The tail of the log (the last 64 KiB)."""
        return await asyncio.to_thread(_read_tail, self.log_path)

    async def wait(self) -> int:
        """Wait for the child to end; its exit code."""
        if self._proc is None:
            raise RuntimeError(f"{self.name} was never started")
        return await self._proc.wait()

    async def stop(self, timeout_s: float = 20.0) -> int | None:
        """SIGTERM, wait up to `timeout_s`, then SIGKILL; the exit code (None if never run)."""
        proc = self._proc
        if proc is None:
            return None
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(asyncio.shield(proc.wait()), timeout_s)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
        return await proc.wait()


async def run_command(argv: Sequence[str], *, env: Mapping[str, str], log_path: Path,
                      timeout_s: float, what: str) -> str:
    """Run a command to completion (stderr appended to the log); its stdout.

    A non-zero exit or a timeout is a DemoError naming the command's own error line.
    """
    await asyncio.to_thread(log_path.parent.mkdir, parents=True, exist_ok=True)
    log = await asyncio.to_thread(log_path.open, "ab")
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv, env=dict(env), stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=log, start_new_session=True,
            preexec_fn=die_with_parent(),
        )
    finally:
        await asyncio.to_thread(log.close)
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), timeout_s)
    except TimeoutError:
        await _kill(proc)
        raise DemoError(f"{what} did not finish within {timeout_s:.0f} s (log {log_path})"
                        ) from None
    except BaseException:
        # The demo is stopping: the command must not outlive it.
        await _kill(proc)
        raise
    text = out.decode(errors="replace")
    await asyncio.to_thread(_append, log_path, text)
    if proc.returncode != 0:
        reason = _last_line(await asyncio.to_thread(_read_tail, log_path))
        raise DemoError(f"{what} failed (exit {proc.returncode}): {reason} (log {log_path})")
    return text


async def _kill(proc: asyncio.subprocess.Process) -> None:
    with contextlib.suppress(ProcessLookupError):
        proc.kill()
    await proc.wait()


def _append(path: Path, text: str) -> None:
    with path.open("a", encoding="utf-8") as handle:
        handle.write(text)


def environment(**overrides: str) -> dict[str, str]:
    """This process's environment plus `overrides` (for children)."""
    return {**os.environ, **overrides}
