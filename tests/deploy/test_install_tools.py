"""scripts/install-tools.sh: safe to run before every `make test`."""

from __future__ import annotations

import os
import time

from tests.deploy import tools
from tests.deploy.paths import INSTALL_TOOLS


def test_script_is_valid_bash_and_executable() -> None:
    assert os.access(INSTALL_TOOLS, os.X_OK)
    result = tools.run(["bash", "-n", INSTALL_TOOLS])
    assert result.returncode == 0, result.stderr


def test_second_run_is_a_quiet_fast_no_op() -> None:
    # The tools are installed by now (make test runs the script first; the other tests
    # fail without them), so a run must change nothing and say nothing.
    started = time.monotonic()
    result = tools.run([INSTALL_TOOLS], timeout=300)
    elapsed = time.monotonic() - started
    assert result.returncode == 0, result.stderr
    assert result.stdout == "" and result.stderr == "", result.stderr
    assert elapsed < 5, f"a no-op run took {elapsed:.1f} s"
