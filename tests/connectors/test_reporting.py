"""The reporting connector: the drop folder, both formats, failed/ with reasons."""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from connectors.reporting import ReportingConnector
from connectors.reporting.formats import ReportFileError, parse_reports
from gateway.errors import ConfigError
from gateway.testing.rig import Rig
from tests.support.waiting import wait_for

HEADER = ("report_code,period_kind,period_year,period_number,reporting_unit_code,"
          "submitted_at,indicator_code,value,unit\n")
AT = "2025-08-02T09:00:00+07:00"


def _row(unit: str = "000.31.07.H12", code: str = "DVC.01", value: str = "12",
         report: str = "BC-DVC", at: str = AT) -> str:
    return f"{report},MONTH,2025,7,{unit},{at},{code},{value},ho so\n"


def _report(unit: str = "000.31.07.H12", **changes: Any) -> dict[str, Any]:
    report: dict[str, Any] = {
        "report_code": "BC-KTXH", "period": {"kind": "QUARTER", "year": 2025, "number": 2},
        "reporting_unit_code": unit, "submitted_at": AT,
        "rows": [{"code": "KTXH.01", "value": 1234.5, "unit": "trieu dong"}],
    }
    report.update(changes)
    return report


FILES: dict[str, bytes] = {
    "two-units.csv": ("\ufeff" + HEADER + _row() + _row(code="DVC.02", value="3.5")
                      + _row(unit="000.31.08.H12")).encode(),
    "batch.json": orjson.dumps({"reports": [_report()]}),
    "single.json": orjson.dumps(_report("000.32.01.H12")),
    "bad-value.csv": (HEADER + _row() + _row(code="DVC.02", value="mot nghin")).encode(),
    "bad-header.csv": HEADER.replace(",unit", "").encode(),
    "bad-unit.json": orjson.dumps([_report(), _report("xa Tan Loc")]),
    "cut.json": orjson.dumps(_report())[:40],
}
REASONS = {
    "bad-value.csv": "line 3: column value:",
    "bad-header.csv": "line 1 (header): missing column(s) unit",
    "bad-unit.json": "[1].reporting_unit_code:",
    "cut.json": "line 1 column 41: not JSON",
}


def _config(drop: Path, **overrides: Any) -> dict[str, Any]:
    return {"connector.class": "reporting", "source.agency.code": "000.00.00.H12",
            "watch.dir": str(drop), "poll.interval.ms": 100, "file.min.age.ms": 0, **overrides}


def _drop(folder: Path, files: dict[str, bytes]) -> None:
    for name, content in files.items():
        tmp = folder / f".{name}.tmp"
        tmp.write_bytes(content)
        tmp.rename(folder / name)


@pytest.mark.integration
async def test_csv_and_json_are_published_and_malformed_files_fail_with_a_reason(
    rig: Rig, tmp_path: Path
) -> None:
    drop = tmp_path / "drop"
    drop.mkdir()
    await asyncio.to_thread(_drop, drop, FILES)

    async def left() -> list[str]:
        return await asyncio.to_thread(lambda: sorted(p.name for p in drop.iterdir()
                                                      if p.is_file()))

    async with rig.running(ReportingConnector, _config(drop), name="rp") as running:
        await wait_for(left, lambda names: names == [], timeout_s=15, what="drop folder empty")
        found = await rig.wait_published("rp", 4, running=running)
        assert await rig.committed("rp") is not None
    assert len(found) == 4
    processed, failed = await asyncio.to_thread(_outcome, drop)
    assert processed == ["batch.json", "single.json", "two-units.csv"]
    for name, reason in REASONS.items():
        content, why = failed[name]
        assert content == FILES[name]
        assert reason in why
    by_file: dict[str, list[dict[str, Any]]] = {}
    for p in found:
        by_file.setdefault(p.payload["source_file"], []).append(p.payload)
        assert p.envelope.occurred_at == datetime.fromisoformat(AT)
    csv_reports = sorted(by_file["two-units.csv"], key=lambda r: r["reporting_unit_code"])
    assert [len(r["rows"]) for r in csv_reports] == [2, 1]
    assert csv_reports[0]["rows"][1] == {"code": "DVC.02", "value": 3.5, "unit": "ho so"}
    assert {p.envelope.business_key for p in found} >= {
        "000.31.07.H12:BC-DVC:MONTH-2025-7", "000.32.01.H12:BC-KTXH:QUARTER-2025-2"}


def _outcome(drop: Path) -> tuple[list[str], dict[str, tuple[bytes, str]]]:
    """Names in processed/, and each failed file's content and reason."""
    processed = sorted(p.name for p in (drop / "processed").iterdir())
    failed = {p.name: (p.read_bytes(), Path(f"{p}.reason.txt").read_text(encoding="utf-8"))
              for p in (drop / "failed").iterdir() if not p.name.endswith(".reason.txt")}
    return processed, failed


@pytest.mark.integration
async def test_files_being_written_or_of_other_types_are_left_alone(
    rig: Rig, tmp_path: Path
) -> None:
    drop = tmp_path / "drop"
    drop.mkdir()
    young = {".hidden.csv": FILES["single.json"], "a.csv.tmp": b"half", "b.json.part": b"{",
             "notes.txt": b"hello"}
    await asyncio.to_thread(lambda: [(drop / n).write_bytes(c) for n, c in young.items()])
    config = _config(drop, **{"file.min.age.ms": 60_000})
    async with rig.running(ReportingConnector, config, name="rp") as running:
        await asyncio.to_thread((drop / "fresh.json").write_bytes, FILES["single.json"])
        await asyncio.sleep(0.6)
        running.assert_running()
        assert await rig.published("rp") == []
    remaining = await asyncio.to_thread(lambda: sorted(p.name for p in drop.iterdir()
                                                       if p.is_file()))
    assert remaining == sorted([*young, "fresh.json"])


@pytest.mark.integration
async def test_a_missing_watch_dir_is_a_config_error_naming_it(rig: Rig, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"watch\.dir: .*is not a folder"):
        async with rig.running(ReportingConnector, _config(tmp_path / "absent"), name="rp"):
            pass


def test_csv_rows_of_one_report_must_agree_on_submission_time() -> None:
    content = (HEADER + _row() + _row(code="DVC.02", at="2025-08-03T09:00:00+07:00")).encode()
    with pytest.raises(ReportFileError, match="line 3: column submitted_at"):
        parse_reports("x.csv", content)


def test_an_indicator_twice_in_one_report_is_refused() -> None:
    with pytest.raises(ReportFileError, match=r"indicator DVC\.01 appears twice"):
        parse_reports("x.csv", (HEADER + _row() + _row()).encode())


def test_a_period_number_must_fit_its_kind() -> None:
    bad = _report(period={"kind": "QUARTER", "year": 2025, "number": 5})
    with pytest.raises(ReportFileError, match=r"^period: .*1\.\.4"):
        parse_reports("x.json", orjson.dumps(bad))


def test_json_accepts_an_object_an_array_or_reports() -> None:
    one = parse_reports("a.json", orjson.dumps(_report()))
    many = parse_reports("b.json", orjson.dumps([_report(), _report("000.31.09.H12")]))
    wrapped = parse_reports("c.JSON", orjson.dumps({"reports": [_report()]}))
    assert [len(one), len(many), len(wrapped)] == [1, 2, 1]
    assert one[0].payload("a.json")["source_file"] == "a.json"
