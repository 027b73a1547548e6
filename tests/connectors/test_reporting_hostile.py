"""The reporting drop folder under hostile or broken files: each one lands in failed/
with its reason, the files after it are still published, the connector keeps RUNNING."""

from __future__ import annotations

import asyncio
import os
import re
from pathlib import Path
from typing import Any

import orjson
import pytest

from connectors.reporting import ReportingConnector
from connectors.reporting.connector import _read_bounded, _Refused
from gateway.connect.discovery import parse_config
from gateway.connect.plugin import FILES_ROOT_CONTEXT
from gateway.errors import ConfigError
from gateway.testing.rig import Rig
from tests.connectors.test_reporting import HEADER, _config, _report, _row
from tests.support.waiting import wait_for

GOOD = orjson.dumps(_report("000.32.01.H12"))


def _huge_report() -> bytes:
    """One valid report whose Avro record is larger than Kafka's 1 MiB default."""
    rows = [{"code": f"KTXH.{i:06d}", "value": float(i), "unit": "u" * 60}
            for i in range(20_000)]
    return orjson.dumps(_report(rows=rows))


def _plant(drop: Path, outside: Path) -> dict[str, str]:
    """Write the hostile files (oldest first), the good one last; name -> expected reason."""
    target = outside / "secret.csv"
    target.write_bytes((HEADER + _row()).encode())
    linked = outside / "linked.csv"
    linked.write_bytes((HEADER + _row(unit="000.31.09.H12")).encode())
    files: dict[str, tuple[bytes | None, str]] = {
        "link.csv": (None, "symbolic link"),
        "hard.csv": (None, "hard links"),
        "wide.csv": ((HEADER + _row(code="X" * 200_000)).encode(),
                     "line 2: not CSV: field larger than field limit"),
        "latin1.csv": ((HEADER + _row()).encode().replace(b"ho so", b"h\xf4 s\xf5"),
                       "not UTF-8 text"),
        "empty.json": (b"", "the file is empty"),
        # A citizen id where a column name should be: the reason names it, masked.
        "ids.csv": ((HEADER.strip() + ",079203001234\n" + _row().strip() + ",x\n").encode(),
                    "unknown column(s) ***"),
        "huge.json": (_huge_report(), "more than Kafka's maximum of 1048576 bytes"),
    }
    reasons: dict[str, str] = {}
    stamp = 1_000_000_000
    for name, (content, reason) in files.items():
        path = drop / name
        if name == "link.csv":
            path.symlink_to(target)
        elif name == "hard.csv":
            os.link(linked, path)
        else:
            assert content is not None
            path.write_bytes(content)
        os.utime(path, (stamp, stamp), follow_symlinks=False)
        stamp += 10
        reasons[name] = reason
    undecodable = os.fsdecode(b"bad-\xff-name.json")
    (drop / undecodable).write_bytes(GOOD)
    os.utime(drop / undecodable, (stamp, stamp))
    reasons[undecodable] = "file name is not UTF-8"
    (drop / "good.json").write_bytes(GOOD)
    os.utime(drop / "good.json", (stamp + 10, stamp + 10))
    return reasons


def _failed(drop: Path) -> dict[str, str]:
    folder = drop / "failed"
    return {p.name: Path(f"{p}.reason.txt").read_text(encoding="utf-8")
            for p in folder.iterdir() if not p.name.endswith(".reason.txt")}


@pytest.mark.integration
async def test_hostile_files_fail_with_a_reason_and_the_next_file_is_published(
    rig: Rig, tmp_path: Path
) -> None:
    drop, outside = tmp_path / "drop", tmp_path / "outside"
    drop.mkdir()
    outside.mkdir()
    reasons = await asyncio.to_thread(_plant, drop, outside)

    async with rig.running(ReportingConnector, _config(drop), name="rp") as running:
        found = await rig.wait_published("rp", 1, running=running)
        await wait_for(lambda: asyncio.to_thread(_failed, drop),
                       lambda failed: len(failed) == len(reasons), timeout_s=20,
                       what="every hostile file in failed/")
        running.assert_running()
    assert [p.payload["source_file"] for p in found] == ["good.json"]
    failed = await asyncio.to_thread(_failed, drop)
    for name, reason in reasons.items():
        assert reason in failed[name], (name, failed[name])
        assert "079203001234" not in failed[name]
    # The link was moved, not what it points at; neither file outside was read or moved.
    assert (drop / "failed" / "link.csv").is_symlink()
    assert (outside / "secret.csv").read_bytes() == (HEADER + _row()).encode()
    assert (outside / "linked.csv").exists()
    assert sorted(p.name for p in (drop / "processed").iterdir()) == ["good.json"]


def test_a_file_that_grows_past_the_limit_while_read_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    path.write_bytes(b"x" * 5000)
    assert _read_bounded(path, 5000) == b"x" * 5000
    with pytest.raises(_Refused, match=r"grew past file\.max\.bytes=4999"):
        _read_bounded(path, 4999)
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    with pytest.raises(_Refused, match="not a regular file"):
        _read_bounded(fifo, 5000)


def test_folders_must_stay_inside_the_configured_root(tmp_path: Path) -> None:
    root = (tmp_path / "root").resolve()
    (root / "drop").mkdir(parents=True)
    (root / "escape").symlink_to(tmp_path)
    context: dict[str, Any] = {FILES_ROOT_CONTEXT: root}
    ok = _config(root / "drop")
    parse_config("rp", ReportingConnector, ok, context=context)
    cases = {
        "watch.dir": {"watch.dir": str(tmp_path / "elsewhere")},
        "processed.dir": {"processed.dir": str(root / "drop" / ".." / ".." / "out")},
        "failed.dir": {"failed.dir": str(root / "escape" / "failed")},
    }
    for key, change in cases.items():
        where = rf"{re.escape(key)}: .*must be inside {re.escape(str(root))}"
        with pytest.raises(ConfigError, match=where):
            parse_config("rp", ReportingConnector, {**ok, **change}, context=context)
    with pytest.raises(ConfigError, match=r"processed\.dir must not be watch\.dir itself"):
        parse_config("rp", ReportingConnector,
                     {**ok, "processed.dir": str(root / "drop")}, context=context)

