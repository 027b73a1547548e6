"""Synthetic exports of a merged province's history, for `lgsp import` (demo, tests, soak).

`write_export(path, message_type, count)` writes `count` records as JSON Lines or CSV
(the format from the name: `.jsonl` / `.csv`, then `.gz` to compress). Dossier events come
in each dossier's order (received, processing, completed...), several per dossier, as the
one-stop system would have exported them. `invalid_share` plants records that must be
rejected (a status not in the schema, a bad agency code, a missing field), each kind
in turn, so a test knows which lines and fields to expect in the rejected file.

Also `python -m devkit.exports FILE --type TYPE --count N [--seed S] [--invalid-share X]`
and `lgsp simulate export`.
"""

from __future__ import annotations

__all__ = ["EXPORT_TYPES", "ExportSummary", "main", "write_export"]

import argparse
import csv
import gzip
import io
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO, Any

import orjson

from devkit.simulators._synthetic import ICT, Synthetic

# The merged province's own codes (illustrative): its records keep them after the merger.
MERGED_SUFFIX = "H09"
MERGED_PROVINCE = f"000.00.00.{MERGED_SUFFIX}"
_START = datetime(2019, 1, 2, 7, 30, tzinfo=ICT)
_STATUS_FLOW = ("RECEIVED", "PROCESSING", "COMPLETED", "RESULT_ISSUED")


@dataclass(slots=True)
class ExportSummary:
    """What was written: counts, and the 1-based record numbers of the planted bad ones."""

    path: Path
    records: int = 0
    invalid: list[int] = field(default_factory=list)
    """Record ordinals (1 = first record) that an import must reject."""
    invalid_fields: dict[int, str] = field(default_factory=dict)
    """Ordinal -> the field the rejection names."""


def _dossier_events(rng: Synthetic) -> Iterator[dict[str, Any]]:
    n = 0
    while True:
        n += 1
        received = _START + timedelta(minutes=7 * n + rng.rng.randint(0, 6))
        dossier = f"{MERGED_SUFFIX}.22-{received:%y%m%d}-{n:07d}"
        steps = _STATUS_FLOW[: rng.rng.randint(1, len(_STATUS_FLOW))]
        applicant = {"full_name": rng.person_name(), "identity_number": rng.identity_number(),
                     "phone": rng.phone() if rng.rng.random() < 0.6 else None}
        agency = f"000.00.{rng.rng.randint(1, 25):02d}.{MERGED_SUFFIX}"
        procedure = f"1.{rng.rng.randint(0, 999999):06d}.000.00.00.{MERGED_SUFFIX}"
        previous: str | None = None
        for i, status in enumerate(steps):
            done = status in ("COMPLETED", "RESULT_ISSUED")
            yield {
                "event_id": f"bl-{n:07d}-{i}",
                "dossier_code": dossier,
                "procedure_code": procedure,
                "receiving_agency_code": agency,
                "status": status,
                "previous_status": previous,
                "applicant": applicant,
                "received_at": received.isoformat(timespec="milliseconds"),
                "due_at": (received + timedelta(days=15)).isoformat(timespec="milliseconds"),
                "completed_at": ((received + timedelta(days=3 + i)).isoformat(
                    timespec="milliseconds") if done else None),
                "fee_paid_vnd": rng.rng.choice((0, 0, 20_000, 50_000, 100_000)),
                "result_reference": f"{n}/QD-UBND" if status == "RESULT_ISSUED" else None,
                "submission_channel": rng.rng.choice(("ONLINE", "COUNTER", "POSTAL")),
                "note": None,
            }
            previous = status


def _documents(rng: Synthetic) -> Iterator[dict[str, Any]]:
    n = 0
    while True:
        n += 1
        when = _START + timedelta(minutes=11 * n)
        yield {
            "document_id": f"bl-doc-{n:07d}",
            "direction": rng.rng.choice(("INCOMING", "OUTGOING")),
            "number_symbol": f"{n}/UBND-VP",
            "issuing_agency_code": f"000.00.{rng.rng.randint(1, 25):02d}.{MERGED_SUFFIX}",
            "recipient_agency_codes": [MERGED_PROVINCE, "000.00.00.H12"],
            "subject": f"Về việc bàn giao hồ sơ lưu trữ số {n}",
            "document_type": rng.rng.choice(("CV", "QD", "TB", "BC")),
            "urgency": rng.rng.choice(("NORMAL", "URGENT")),
            "security_level": "NORMAL",
            "signed_date": when.date().isoformat(),
            "signer": {"full_name": rng.person_name(), "position": "Phó Chủ tịch"},
            "due_date": None,
            "response_for": None,
            "attachments": [],
            "modified_at": when.isoformat(timespec="milliseconds"),
        }


def _reports(rng: Synthetic) -> Iterator[dict[str, Any]]:
    n = 0
    while True:
        n += 1
        unit = f"000.{31 + n % 9:02d}.{1 + n % 30:02d}.{MERGED_SUFFIX}"
        year, month = 2019 + (n // 360) % 7, 1 + n % 12
        yield {
            "report_code": f"BC-{n % 40:02d}",
            "period": {"kind": "MONTH", "year": year, "number": month},
            "reporting_unit_code": unit,
            "submitted_at": datetime(year, month, 28, 9, tzinfo=ICT).isoformat(),
            "rows": [{"code": "HS_TIEPNHAN", "value": float(rng.rng.randint(0, 900)),
                      "unit": "hồ sơ"}],
            "source_file": f"baocao-{n:07d}.xlsx",
        }


EXPORT_TYPES: dict[str, Callable[[Synthetic], Iterator[dict[str, Any]]]] = {
    "onestop.dossier_event": _dossier_events,
    "ioffice.document": _documents,
    "reporting.report_submission": _reports,
}

# (field, how to spoil it): each is refused by the schema or the agency-code rule.
_SPOILERS: dict[str, list[tuple[str, Callable[[dict[str, Any]], None]]]] = {
    "onestop.dossier_event": [
        ("status", lambda r: r.__setitem__("status", "LOST")),
        ("receiving_agency_code", lambda r: r.__setitem__("receiving_agency_code", "bac lieu")),
        ("dossier_code", lambda r: r.pop("dossier_code")),
    ],
    "ioffice.document": [
        ("urgency", lambda r: r.__setitem__("urgency", "SOON")),
        ("modified_at", lambda r: r.__setitem__("modified_at", "yesterday")),
    ],
    "reporting.report_submission": [
        ("period.year", lambda r: r["period"].__setitem__("year", "last year")),
        ("reporting_unit_code", lambda r: r.__setitem__("reporting_unit_code", "x")),
    ],
}


def write_export(path: Path, message_type: str, count: int, *, seed: int | None = 0,
                 invalid_share: float = 0.0) -> ExportSummary:
    """Write `count` records (valid and planted invalid ones) to `path`."""
    make = EXPORT_TYPES.get(message_type)
    if make is None:
        raise ValueError(f"no generator for {message_type!r}; one of {', '.join(EXPORT_TYPES)}")
    rng = Synthetic(seed)
    records = make(rng)
    spoilers = _SPOILERS[message_type]
    summary = ExportSummary(path)
    every = round(1 / invalid_share) if invalid_share > 0 else 0
    suffixes = [s.lower() for s in path.suffixes]
    compressed = bool(suffixes) and suffixes[-1] == ".gz"
    is_csv = ".csv" in suffixes
    with path.open("wb") as file:
        raw: IO[bytes] = (gzip.GzipFile(fileobj=file, mode="wb", compresslevel=1)  # type: ignore[assignment]
                          if compressed else file)
        out = io.TextIOWrapper(raw, encoding="utf-8", newline="")
        writer = _csv_writer(out, message_type) if is_csv else _jsonl_writer(out)
        for ordinal in range(1, count + 1):
            record = next(records)
            if every and ordinal % every == 0:
                name, spoil = spoilers[len(summary.invalid) % len(spoilers)]
                spoil(record)
                summary.invalid.append(ordinal)
                summary.invalid_fields[ordinal] = name
            writer(record)
        out.flush()
        out.detach()
        raw.close()
    summary.records = count
    return summary


def _jsonl_writer(out: io.TextIOWrapper) -> Callable[[dict[str, Any]], None]:
    def write(record: dict[str, Any]) -> None:
        out.write(orjson.dumps(record).decode() + "\n")
    return write


def _csv_writer(out: io.TextIOWrapper, message_type: str) -> Callable[[dict[str, Any]], None]:
    writer = csv.writer(out)
    header: list[str] = []

    def write(record: dict[str, Any]) -> None:
        flat = _flatten(record)
        if not header:
            header.extend(_flatten(next(EXPORT_TYPES[message_type](Synthetic(0)))))
            writer.writerow(header)
        writer.writerow([_cell(flat.get(name)) for name in header])
    return write


def _flatten(record: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in record.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, dict)):
        return orjson.dumps(value).decode()
    return str(value)


def main(argv: list[str] | None = None) -> int:
    """`python -m devkit.exports FILE --type TYPE --count N`."""
    parser = argparse.ArgumentParser(prog="python -m devkit.exports",
                                     description="Write a synthetic export for lgsp import.")
    parser.add_argument("file", type=Path, help="output: .jsonl or .csv, optionally .gz")
    parser.add_argument("--type", dest="message_type", choices=sorted(EXPORT_TYPES),
                        default="onestop.dossier_event")
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--invalid-share", type=float, default=0.0)
    args = parser.parse_args(argv)
    summary = write_export(args.file, args.message_type, args.count, seed=args.seed,
                           invalid_share=args.invalid_share)
    sys.stdout.write(f"records={summary.records} invalid={len(summary.invalid)} "
                     f"file={summary.path}\n")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
