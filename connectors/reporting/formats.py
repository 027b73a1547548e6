"""The two export formats the `reporting` connector reads (UTF-8, a BOM is tolerated).

CSV (`*.csv`), one row per indicator, header required, these columns in any order:

    report_code,period_kind,period_year,period_number,reporting_unit_code,submitted_at,
    indicator_code,value,unit

Consecutive or not, rows with the same (report_code, period_kind, period_year,
period_number, reporting_unit_code) form one report; they must agree on `submitted_at`
(ISO 8601 with offset). `value` uses a dot for decimals. `period_kind` is WEEK, MONTH,
QUARTER, HALF_YEAR or YEAR; `period_number` its week/month/quarter/half (1 for YEAR).

JSON (`*.json`): one report object, an array of them, or `{"reports": [...]}`:

    {"report_code": "BC-KTXH", "period": {"kind": "MONTH", "year": 2025, "number": 7},
     "reporting_unit_code": "000.31.07.H12", "submitted_at": "2025-08-02T09:00:00+07:00",
     "rows": [{"code": "KTXH.01", "value": 1234.5, "unit": "trieu dong"}]}

A file is all or nothing: the first problem names its line (CSV) or path (JSON) and field.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any, Literal

import orjson
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, model_validator

from gateway.contracts import AgencyCode
from gateway.errors import ContractError
from gateway.settings import problems_from

CSV_COLUMNS = ("report_code", "period_kind", "period_year", "period_number",
               "reporting_unit_code", "submitted_at", "indicator_code", "value", "unit")
_LAST_NUMBER = {"WEEK": 53, "MONTH": 12, "QUARTER": 4, "HALF_YEAR": 2, "YEAR": 1}
# Where a report-level problem shows up in a CSV file.
_CSV_NAMES = {"period.kind": "period_kind", "period.year": "period_year",
              "period.number": "period_number", "period": "period_number",
              "code": "indicator_code"}


class ReportFileError(ContractError):
    """A report file that cannot be published; the message names the line or path and field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class IndicatorRow(_Strict):
    """One indicator value of a report."""

    code: str = Field(min_length=1, max_length=64)
    value: float
    unit: str = Field(max_length=64)


class Period(_Strict):
    """The reporting period: kind, year and number within the year."""

    kind: Literal["WEEK", "MONTH", "QUARTER", "HALF_YEAR", "YEAR"]
    year: int = Field(ge=1990, le=2100)
    number: int = Field(ge=1)

    @model_validator(mode="after")
    def _number_fits_kind(self) -> Period:
        last = _LAST_NUMBER[self.kind]
        if self.number > last:
            raise ValueError(f"number of a {self.kind} period is 1..{last}, not {self.number}")
        return self


class Report(_Strict):
    """One report submission as read from a file."""

    report_code: str = Field(min_length=1, max_length=64)
    period: Period
    reporting_unit_code: AgencyCode
    submitted_at: AwareDatetime
    rows: list[IndicatorRow] = Field(min_length=1)

    @model_validator(mode="after")
    def _codes_unique(self) -> Report:
        seen: set[str] = set()
        for row in self.rows:
            if row.code in seen:
                raise ValueError(f"indicator {row.code} appears twice in one report")
            seen.add(row.code)
        return self

    @property
    def business_key(self) -> str:
        """Unit, report and period: order and correlation are kept per this key."""
        p = self.period
        return f"{self.reporting_unit_code}:{self.report_code}:{p.kind}-{p.year}-{p.number}"

    def payload(self, source_file: str) -> dict[str, Any]:
        """The `reporting.report_submission` datum."""
        return {**self.model_dump(), "source_file": source_file}


def parse_reports(file_name: str, content: bytes) -> list[Report]:
    """The reports of one file, by its extension; ReportFileError on the first problem."""
    if not content.strip():
        raise ReportFileError("the file is empty")
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ReportFileError(f"byte {exc.start}: not UTF-8 text") from exc
    if file_name.lower().endswith(".csv"):
        return _csv_reports(text)
    if file_name.lower().endswith(".json"):
        return _json_reports(text)
    raise ReportFileError(f"{file_name}: unsupported file type; export .csv or .json")


def _json_reports(text: str) -> list[Report]:
    try:
        doc = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise ReportFileError(f"line {exc.lineno} column {exc.colno}: not JSON: {exc.msg}") from exc
    if isinstance(doc, dict) and "reports" in doc:
        doc, prefix = doc["reports"], "reports"
    else:
        prefix = ""
    items = doc if isinstance(doc, list) else [doc]
    if not items:
        raise ReportFileError("the file holds no report")
    reports = []
    for i, item in enumerate(items):
        where = f"{prefix}[{i}]" if isinstance(doc, list) else prefix
        try:
            reports.append(Report.model_validate(item))
        except ValidationError as exc:
            first = problems_from(exc)[0]
            path = ".".join(p for p in (where, first.field) if p and p != "(root)")
            raise ReportFileError(f"{path or 'report'}: {first.reason}") from exc
    return reports


def _rows(reader: csv.DictReader[str]) -> Iterator[dict[str | Any, str | Any]]:
    """The reader's rows; csv.Error (a field over csv's size limit, a stray quote) as
    ReportFileError naming the line."""
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise ReportFileError(f"line {reader.reader.line_num}: not CSV: {exc}") from exc
        yield row


def _csv_reports(text: str) -> list[Report]:
    reader = csv.DictReader(io.StringIO(text, newline=""))
    try:
        fieldnames = reader.fieldnames
    except csv.Error as exc:
        raise ReportFileError(f"line 1 (header): not CSV: {exc}") from exc
    header = [c.strip() for c in fieldnames or ()]
    missing = [c for c in CSV_COLUMNS if c not in header]
    unknown = [c for c in header if c not in CSV_COLUMNS]
    if missing or unknown:
        problems = ([f"missing column(s) {', '.join(missing)}"] if missing else []) + (
            [f"unknown column(s) {', '.join(unknown)}"] if unknown else [])
        raise ReportFileError(f"line 1 (header): {'; '.join(problems)}")
    reader.fieldnames = header
    groups: dict[tuple[str, ...], tuple[dict[str, Any], list[int]]] = {}
    for row in _rows(reader):
        line = reader.line_num
        if None in row or any(v is None for v in row.values()):
            raise ReportFileError(f"line {line}: expected {len(header)} columns")
        cells = {k: (v or "").strip() for k, v in row.items() if k is not None}
        key = tuple(cells[c] for c in CSV_COLUMNS[:5])
        if key not in groups:
            groups[key] = ({
                "report_code": cells["report_code"],
                "period": {"kind": cells["period_kind"], "year": cells["period_year"],
                           "number": cells["period_number"]},
                "reporting_unit_code": cells["reporting_unit_code"],
                "submitted_at": cells["submitted_at"],
                "rows": [],
            }, [])
        report, lines = groups[key]
        if cells["submitted_at"] != report["submitted_at"]:
            raise ReportFileError(
                f"line {line}: column submitted_at: differs from line {lines[0]} of the "
                "same report")
        report["rows"].append(
            {"code": cells["indicator_code"], "value": cells["value"], "unit": cells["unit"]})
        lines.append(line)
    if not groups:
        raise ReportFileError("the file holds no report (header only)")
    return [_csv_report(report, lines) for report, lines in groups.values()]


def _csv_report(report: dict[str, Any], lines: list[int]) -> Report:
    try:
        return Report.model_validate(report)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = [str(p) for p in err["loc"]]
        line = lines[0]
        if len(loc) >= 2 and loc[0] == "rows" and loc[1].isdigit():
            line = lines[int(loc[1])]
            loc = loc[2:]
        name = ".".join(loc) or "report"
        raise ReportFileError(
            f"line {line}: column {_CSV_NAMES.get(name, name)}: {err['msg']}") from exc
