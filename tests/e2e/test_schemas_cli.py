"""`lgsp schemas check` as a user runs it: the gate passes today and catches breakage."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from gateway.settings import Settings
from tests.support.cli import lgsp

pytestmark = pytest.mark.e2e


def _check(*args: str) -> subprocess.CompletedProcess[str]:
    return lgsp("schemas", "check", *args)


def test_the_project_schemas_pass_the_gate() -> None:
    result = _check()
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("ok:")


def test_a_breaking_copy_fails_with_one_line_per_change(tmp_path: Path) -> None:
    copy = tmp_path / "avro"
    shutil.copytree(Settings().schemas_dir, copy)
    latest = copy / "onestop.dossier_event" / "v2.avsc"
    schema = json.loads(latest.read_text())
    schema["fields"] = [f for f in schema["fields"] if f["name"] != "procedure_code"]
    for field in schema["fields"]:
        if field["name"] == "fee_paid_vnd":
            field["type"] = "int"  # narrowed from long
    latest.write_text(json.dumps(schema))
    result = _check("--dir", str(copy))
    assert result.returncode == 1
    lines = result.stdout.strip().splitlines()
    assert any("v1 cannot read v2 data: field procedure_code" in ln and "no default" in ln
               for ln in lines), lines
    assert any("v2 cannot read v1 data: field fee_paid_vnd" in ln and "long" in ln
               for ln in lines), lines
    assert all(ln.startswith("BREAKING onestop.dossier_event") for ln in lines)


def test_a_missing_directory_is_one_clear_line(tmp_path: Path) -> None:
    result = _check("--dir", str(tmp_path / "nope"))
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0
    assert "does not exist" in result.stderr


def test_an_installed_plugins_schemas_are_gated_with_the_built_in_ones(
    example_plugin_path: Path, tmp_path: Path
) -> None:
    env = {**os.environ, "PYTHONPATH": str(example_plugin_path)}
    result = lgsp("schemas", "check", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "and lgsp-example-connector (" in result.stdout

    # The gateway's own folder gaining a schema of the plugin's name: one line, both named.
    copy = tmp_path / "avro"
    shutil.copytree(Settings().schemas_dir, copy)
    shutil.copytree(copy / "reporting.report_submission", copy / "example.heartbeat")
    clash = lgsp("schemas", "check", "--dir", str(copy), env=env)
    assert clash.returncode == 1
    assert clash.stderr.strip().count("\n") == 0, clash.stderr
    assert "schema 'example.heartbeat' is shipped twice: by lgsp-gateway" in clash.stderr
    assert "and by lgsp-example-connector" in clash.stderr
