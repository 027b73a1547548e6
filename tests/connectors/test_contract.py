"""The installed contract suite (gateway.testing.contract), run over every installed plugin.

The built-in plugins' harnesses are registered by the development kit (devkit/harnesses.py)
through the `lgsp.harnesses` entry points, exactly as an outside plugin registers its own.
A plugin installed here without a harness is skipped, never failed.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from gateway.testing.contract import ConnectorContract
from gateway.testing.fixtures import installed_plugins
from gateway.testing.harness import harness_entry_points
from tests.conftest import BrokerHandle

pytestmark = pytest.mark.integration

BUILT_IN = ("ioffice", "one-stop", "reporting")
REPO = Path(__file__).resolve().parents[2]


def test_built_in_plugins_and_their_harnesses_are_registered() -> None:
    missing = [name for name in BUILT_IN if name not in installed_plugins()]
    assert not missing, (f"not registered as plugins: {missing}; reinstall the project "
                         "(make setup) so its entry points are current")
    unharnessed = [name for name in BUILT_IN if name not in harness_entry_points()]
    assert not unharnessed, f"no contract harness registered for {unharnessed}"


class TestEveryInstalledPlugin(ConnectorContract):
    """Every plugin installed beside the gateway (plugins = None)."""


def test_a_plugin_without_a_harness_is_skipped_not_failed(
    example_plugin_path: Path, kafka: BrokerHandle
) -> None:
    # The example plugin registers no harness: the suite runs its declaration check and
    # skips the rest with the reason, and the session passes.
    env = {**os.environ, "PYTHONPATH": str(example_plugin_path),
           "KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", __file__, "-k", "example", "-q", "-rs",
         "-p", "no:cacheprovider"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=240, check=False)
    assert done.returncode == 0, done.stdout[-3000:]
    assert "1 passed, 4 skipped" in done.stdout, done.stdout[-3000:]
    assert "plugin 'example' registers no contract harness" in done.stdout
