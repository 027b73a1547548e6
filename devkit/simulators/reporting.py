"""A simulated reporting system: communes' report exports written into a drop folder.

Files are written atomically (a `.<name>.tmp` file renamed into place), the protocol the
`reporting` connector documents. `malformed_share` of the files are deliberately broken
(a value that is not a number, a missing column, a bad agency code, cut-off JSON) to
exercise the failed/ path.
"""

from __future__ import annotations

import asyncio
import csv
import io
import os
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

import orjson

from connectors.reporting.formats import CSV_COLUMNS
from devkit.simulators._synthetic import Synthetic, now_ms

FileFormat = Literal["csv", "json", "mixed"]

# Report code -> its indicators (code, unit).
_REPORTS: dict[str, tuple[tuple[str, str], ...]] = {
    "BC-KTXH": (("KTXH.01", "trieu dong"), ("KTXH.02", "trieu dong"), ("KTXH.03", "%"),
                ("KTXH.04", "ho")),
    "BC-DVC": (("DVC.01", "ho so"), ("DVC.02", "ho so"), ("DVC.03", "ho so"),
               ("DVC.04", "%")),
    "BC-CDS": (("CDS.01", "tai khoan"), ("CDS.02", "%"), ("CDS.03", "he thong")),
    "BC-DS": (("DS.01", "nguoi"), ("DS.02", "nguoi"), ("DS.03", "ho")),
}


@dataclass(frozen=True, slots=True)
class WrittenFile:
    """One file dropped into the folder: how many reports it holds, and whether it is broken."""

    path: Path
    reports: int
    malformed: bool


class ReportWriter:
    """Writes report export files into `directory`, atomically."""

    def __init__(
        self, directory: Path, *, fmt: FileFormat = "mixed", malformed_share: float = 0.0,
        seed: int | None = None,
    ) -> None:
        self._dir = directory
        self._fmt = fmt
        self._malformed_share = malformed_share
        self._syn = Synthetic(seed)
        self._tag = self._syn.hex_id(6)
        self._seq = 0

    async def write(
        self, count: int, *, rate: float | None = None, reports_per_file: int | None = None
    ) -> list[WrittenFile]:
        """Write `count` files, `rate` files per second (None: at once)."""
        written = []
        for i in range(count):
            if rate and i:
                await asyncio.sleep(1.0 / rate)
            written.append(await self.write_file(reports_per_file))
        return written

    async def write_file(
        self, reports: int | None = None, *, fmt: Literal["csv", "json"] | None = None,
        malformed: bool | None = None,
    ) -> WrittenFile:
        """Write one file of `reports` reports (default 1 to 3)."""
        rng = self._syn.rng
        count = reports or rng.randint(1, 3)
        kind = fmt or (self._fmt if self._fmt != "mixed" else rng.choice(("csv", "json")))
        broken = rng.random() < self._malformed_share if malformed is None else malformed
        items = [self._report() for _ in range(count)]
        content = _csv(items, broken, rng.random()) if kind == "csv" else _json(items, broken,
                                                                                 rng.random())
        self._seq += 1
        unit = items[0]["reporting_unit_code"]
        name = f"{unit}_{items[0]['report_code']}_{self._tag}{self._seq:05d}.{kind}"
        path = await asyncio.to_thread(_write_atomically, self._dir / name, content)
        return WrittenFile(path, count, broken)

    def _report(self) -> dict[str, Any]:
        rng = self._syn.rng
        code = rng.choice(list(_REPORTS))
        now = now_ms()
        kind = rng.choices(("MONTH", "QUARTER", "WEEK", "YEAR"), (6, 2, 1, 1))[0]
        number = {"MONTH": max(1, now.month - 1), "QUARTER": (now.month - 1) // 3 or 1,
                  "WEEK": max(1, int(now.strftime("%V")) - 1), "YEAR": 1}[kind]
        return {
            "report_code": code,
            "period": {"kind": kind, "year": now.year if kind != "YEAR" else now.year - 1,
                       "number": number},
            "reporting_unit_code": self._syn.commune_code(),
            "submitted_at": (now - timedelta(minutes=rng.randint(0, 120))).isoformat(
                timespec="milliseconds"),
            "rows": [{"code": ind, "value": round(rng.uniform(0, 5000), 1), "unit": unit}
                     for ind, unit in _REPORTS[code]],
        }


def _csv(reports: list[dict[str, Any]], broken: bool, roll: float) -> bytes:
    out = io.StringIO(newline="")
    columns = list(CSV_COLUMNS)
    if broken and roll < 0.3:
        columns.remove("unit")
    writer = csv.DictWriter(out, columns, extrasaction="ignore", lineterminator="\r\n")
    writer.writeheader()
    for r_index, report in enumerate(reports):
        for i, row in enumerate(report["rows"]):
            value: object = row["value"]
            unit_code = report["reporting_unit_code"]
            if broken and r_index == len(reports) - 1 and i == len(report["rows"]) - 1:
                if roll < 0.65:
                    value = "mot nghin"
                elif roll >= 0.3:
                    unit_code = "H12-XA-01"
            writer.writerow({
                "report_code": report["report_code"], "period_kind": report["period"]["kind"],
                "period_year": report["period"]["year"],
                "period_number": report["period"]["number"],
                "reporting_unit_code": unit_code, "submitted_at": report["submitted_at"],
                "indicator_code": row["code"], "value": value, "unit": row["unit"],
            })
    # A BOM, as spreadsheet software writes it: the connector must cope.
    return b"\xef\xbb\xbf" + out.getvalue().encode()


def _json(reports: list[dict[str, Any]], broken: bool, roll: float) -> bytes:
    if broken and roll >= 0.5:
        reports[-1]["period"]["kind"] = "MONTHLY"
    content = orjson.dumps({"reports": reports}, option=orjson.OPT_INDENT_2)
    if broken and roll < 0.5:
        content = content[: len(content) // 2]
    return content


def _write_atomically(path: Path, content: bytes) -> Path:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(content)
    os.replace(tmp, path)
    return path
