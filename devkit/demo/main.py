"""`python -m devkit.demo [run|stop]`: the entry point, signals, the pid file, exit codes.

Exit codes: 0 the demo ran (and was stopped with Ctrl-C/SIGTERM after its story, or
`--once` completed); 1 an error, printed as one line; 2 a usage error; 130 stopped by a
signal before the story was complete.
"""

from __future__ import annotations

__all__ = ["main"]

import asyncio
import contextlib
import os
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from devkit.demo.errors import DemoError, first_error
from devkit.demo.options import DemoOptions, parse_args
from devkit.demo.report import Console
from devkit.demo.scenario import Demo
from gateway.errors import GatewayError
from gateway.logs import configure_logging

_PID_FILE = "demo.pid"
_STOP_WAIT_S = 120.0


def main(argv: Sequence[str] | None = None) -> int:
    """Run (or stop) the demo; returns the exit code."""
    action, options = parse_args(argv)
    # The demo's own log lines (the local broker's, mostly) would clutter the story.
    configure_logging("json", "WARNING")
    try:
        if action == "stop":
            return asyncio.run(_stop_other(options.home))
        return asyncio.run(_supervise(options))
    except BaseException as exc:  # every failure ends as one line, or is re-raised below
        error = first_error(exc)
        if isinstance(error, GatewayError):
            sys.stderr.write(f"demo: error: {error}\n")
            return 1
        if isinstance(error, KeyboardInterrupt):
            sys.stderr.write("demo: interrupted\n")
            return 130
        raise


async def _supervise(options: DemoOptions) -> int:
    """Run the demo as a task that the first SIGINT/SIGTERM cancels (which stops it all)."""
    pid_file = options.home / _PID_FILE
    await _claim(pid_file)
    demo = Demo(options)
    task = asyncio.create_task(demo.run(), name="demo")
    loop = asyncio.get_running_loop()
    signals_seen = 0

    def on_signal(signum: signal.Signals) -> None:
        nonlocal signals_seen
        signals_seen += 1
        if signals_seen == 1:
            Console(0).say(f"\n{signum.name}: stopping every process the demo started ...")
            task.cancel()
        else:
            Console(0).say("still stopping; each process gets SIGKILL if it does not stop "
                           "in time")

    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, on_signal, signum)
    try:
        code = await task
    except asyncio.CancelledError:
        if not signals_seen:
            raise
        Console(0).say("demo stopped")
        return 0 if demo.story_done else 130
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
        await asyncio.to_thread(pid_file.unlink, missing_ok=True)
    Console(0).say("demo stopped")
    return code


def _demo_pid(pid_file: Path) -> int | None:
    """The pid of a live demo recorded in `pid_file`, else None."""
    try:
        pid = int(pid_file.read_text().strip())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, ValueError):
        return None
    return pid if b"devkit.demo" in cmdline and pid != os.getpid() else None


async def _claim(pid_file: Path) -> None:
    """Refuse to run twice on one state folder; record this demo's pid."""
    running = await asyncio.to_thread(_demo_pid, pid_file)
    if running is not None:
        raise DemoError(f"a demo is already running (pid {running}); stop it with "
                        "`make demo-stop` or Ctrl-C in its terminal")
    await asyncio.to_thread(pid_file.parent.mkdir, parents=True, exist_ok=True)
    await asyncio.to_thread(pid_file.write_text, f"{os.getpid()}\n")


async def _stop_other(home: Path) -> int:
    """`make demo-stop`: SIGTERM the running demo and wait until it has stopped everything."""
    console = Console(0)
    pid_file = home / _PID_FILE
    pid = await asyncio.to_thread(_demo_pid, pid_file)
    if pid is None:
        console.say(f"no demo is running (no live pid in {pid_file})")
        return 0
    console.say(f"stopping the demo (pid {pid}) and every process it started ...")
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + _STOP_WAIT_S
    while await asyncio.to_thread(_demo_pid, pid_file) == pid:
        if time.monotonic() > deadline:
            # Its children die with it (the kernel signals them), so this still cleans up.
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            console.say(f"the demo did not stop within {_STOP_WAIT_S:.0f} s; killed it")
            return 1
        await asyncio.sleep(0.5)
    console.say("demo stopped")
    return 0
