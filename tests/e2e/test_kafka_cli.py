"""`lgsp kafka up|down|status` as a user runs them, including every error case."""

from __future__ import annotations

import os
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from devkit.localkafka import free_port
from tests.support.broker import REPO_ROOT
from tests.support.cli import lgsp

pytestmark = pytest.mark.e2e


@pytest.fixture
def broker_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    """Environment for a private broker: own state dir and ports, shared jar cache."""
    env = {
        **os.environ,
        "LGSP_STATE_DIR": str(tmp_path / "state"),
        "LGSP_CACHE_DIR": str(REPO_ROOT / ".lgsp" / "cache"),
        "LGSP_BROKER__PORT": str(free_port()),
        "LGSP_BROKER__CONTROLLER_PORT": str(free_port()),
        "LGSP_LOG_FORMAT": "json",
    }
    yield env
    lgsp("kafka", "down", env=env)


def _one_line_error(stderr: str) -> str:
    lines = [ln for ln in stderr.splitlines() if ln.startswith("lgsp")]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    return lines[0]


def test_up_status_down_lifecycle(broker_env: dict[str, str]) -> None:
    port = broker_env["LGSP_BROKER__PORT"]
    up = lgsp("kafka", "up", env=broker_env)
    assert up.returncode == 0, up.stderr
    assert up.stdout.strip() == f"127.0.0.1:{port}"
    with socket.create_connection(("127.0.0.1", int(port)), timeout=5):
        pass
    status = lgsp("kafka", "status", env=broker_env)
    assert status.returncode == 0 and "running" in status.stdout
    down = lgsp("kafka", "down", env=broker_env)
    assert down.returncode == 0 and down.stdout.strip() == "stopped"
    status = lgsp("kafka", "status", env=broker_env)
    assert status.returncode == 3 and status.stdout.startswith("not running")
    with pytest.raises(ConnectionRefusedError), socket.create_connection(
        ("127.0.0.1", int(port)), timeout=2
    ):
        pass


def test_busy_port_is_one_line_with_the_log_path(broker_env: dict[str, str]) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", int(broker_env["LGSP_BROKER__PORT"])))
        holder.listen()
        result = lgsp("kafka", "up", env=broker_env)
    assert result.returncode == 1
    line = _one_line_error(result.stderr)
    assert "already in use" in line and "broker.log" in line


def test_missing_java_is_one_line(broker_env: dict[str, str], tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    mvn = shutil.which("mvn")
    assert mvn is not None
    (bin_dir / "mvn").symlink_to(mvn)
    result = lgsp("kafka", "up", env={**broker_env, "PATH": str(bin_dir)})
    assert result.returncode == 1
    assert "java not found on PATH" in _one_line_error(result.stderr)


def test_missing_maven_is_one_line(broker_env: dict[str, str], tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    java = shutil.which("java")
    assert java is not None
    (bin_dir / "java").symlink_to(java)
    env = {**broker_env, "PATH": str(bin_dir), "LGSP_CACHE_DIR": str(tmp_path / "empty-cache")}
    result = lgsp("kafka", "up", env=env)
    assert result.returncode == 1
    assert "mvn not found on PATH" in _one_line_error(result.stderr)


def test_a_broker_that_does_not_come_up_in_time(broker_env: dict[str, str]) -> None:
    result = lgsp("kafka", "up", env={**broker_env, "LGSP_BROKER__START_TIMEOUT_S": "0.3"})
    assert result.returncode == 1
    line = _one_line_error(result.stderr)
    assert "did not come up within" in line and "broker.log" in line
    assert lgsp("kafka", "status", env=broker_env).returncode == 3  # nothing left running


def test_every_kafka_verb_has_help_and_bad_arguments_are_one_line() -> None:
    for verb in ("up", "down", "status"):
        assert lgsp("kafka", verb, "--help").returncode == 0
    bad = lgsp("kafka", "up", "--port", "not-a-number")
    assert bad.returncode == 2
    assert "invalid int value" in _one_line_error(bad.stderr)
