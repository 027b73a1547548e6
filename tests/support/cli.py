"""Run the installed `lgsp` console command the way a user does."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

LGSP = str(Path(sys.executable).with_name("lgsp"))


def lgsp(*args: str, timeout: float = 120, env: dict[str, str] | None = None
         ) -> subprocess.CompletedProcess[str]:
    """Run `lgsp ARGS...` to completion; returns exit code, stdout and stderr."""
    return subprocess.run([LGSP, *args], capture_output=True, text=True, timeout=timeout,
                          check=False, env=env)
