"""Helpers for the child processes the project's tools start (demo, benchmark, local broker,
test rigs): how to run `lgsp`, how to tie a child's life to its parent, and how to read a
child's memory.

The demo, the benchmark, the local Kafka broker and the test suite each start children;
they share these three pieces from here, so there is one spelling of the prctl call, one
way to find the `lgsp` command and one unit (KiB, as /proc gives it) for memory.
Linux only, like the gateway's deployment: prctl(2) and /proc/<pid>/status.
"""

from __future__ import annotations

__all__ = ["Memory", "die_with_parent", "lgsp_command", "read_memory"]

import ctypes
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def die_with_parent(sig: signal.Signals = signal.SIGTERM) -> Callable[[], None]:
    """A `preexec_fn` after which the kernel sends the child `sig` when its parent dies.

    No child outlives the tool that started it: even a `kill -9` of the demo, the
    benchmark or pytest leaves no broker, stub or gateway running. The signal goes when
    the thread that forked the child ends, which for an event loop's children is the
    loop's thread.
    """
    # Looked up now, in the parent: the child between fork and exec should do no more
    # than the one call.
    prctl = ctypes.CDLL("libc.so.6", use_errno=True).prctl

    def preexec() -> None:  # pragma: no cover - runs in the child before exec
        prctl(_PR_SET_PDEATHSIG, sig)

    return preexec


def lgsp_command() -> tuple[str, ...]:
    """How to run the `lgsp` command of this interpreter's environment (blocking: a stat)."""
    script = Path(sys.executable).with_name("lgsp")
    if script.is_file():
        return (str(script),)
    # Not installed as a console script (e.g. run from a bare checkout): same entry point.
    return (sys.executable, "-c", "import sys; from gateway.cli import main; sys.exit(main())")


@dataclass(frozen=True, slots=True)
class Memory:
    """A process's resident memory from /proc, in KiB: now (VmRSS) and its peak (VmHWM)."""

    rss_kib: int
    peak_kib: int

    @property
    def rss_mib(self) -> float:
        """Resident memory now, in MiB."""
        return self.rss_kib / 1024

    @property
    def peak_mib(self) -> float:
        """The resident high-water mark, in MiB."""
        return self.peak_kib / 1024

    def __str__(self) -> str:
        return f"VmHWM={self.peak_mib:.1f}MiB VmRSS={self.rss_mib:.1f}MiB"


def read_memory(pid: int) -> Memory | None:
    """VmRSS and VmHWM of a live process, or None once it is gone.

    procfs is served from kernel memory, so this read never waits on a disk.
    """
    fields: dict[str, int] = {}
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                name, _, value = line.partition(":")
                if name in ("VmRSS", "VmHWM"):
                    fields[name] = int(value.split()[0])  # in kB, i.e. KiB
    except (OSError, ValueError):
        return None
    if len(fields) != 2:
        # A zombie has no memory lines left: gone as far as memory goes.
        return None
    return Memory(rss_kib=fields["VmRSS"], peak_kib=fields["VmHWM"])
