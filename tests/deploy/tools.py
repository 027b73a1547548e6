"""Running the checking tools (promtool, kustomize, kubernetes-validate) from tests.

scripts/install-tools.sh installs them; `make test` runs it before pytest. A missing
tool fails the test that needs it with one line naming the fix: never a skip, so a
green run always means the checks ran.
"""

from __future__ import annotations

__all__ = ["kubernetes_validate", "kustomize", "promtool", "run"]

import os
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

import pytest

from tests.deploy.paths import KUBERNETES_VALIDATE, KUSTOMIZE

_FIX = "run scripts/install-tools.sh (make test does)"


def _require(path: Path | None, what: str) -> Path:
    if path is None or not path.is_file() or not os.access(path, os.X_OK):
        pytest.fail(f"{what} is not installed ({path or 'not on PATH'}): {_FIX}", pytrace=False)
    return path


def promtool() -> Path:
    """promtool from Debian's prometheus package (on PATH)."""
    found = shutil.which("promtool")
    return _require(Path(found) if found else None, "promtool")


def kustomize() -> Path:
    """kustomize, built by go install into .lgsp/tools/bin."""
    return _require(KUSTOMIZE, "kustomize")


def kubernetes_validate() -> Path:
    """kubernetes-validate's command, installed into the project's venv."""
    return _require(KUBERNETES_VALIDATE, "kubernetes-validate")


def run(
    argv: Sequence[str | Path], *, cwd: Path | None = None, stdin: str | None = None,
    timeout: float = 60.0,
) -> subprocess.CompletedProcess[str]:
    """Run a tool without a shell and capture its output; the caller judges the result."""
    return subprocess.run(
        [str(a) for a in argv], cwd=cwd, input=stdin, capture_output=True, text=True,
        timeout=timeout, check=False,
    )
