"""Readers of export files: JSON Lines or CSV, plain or gzip, one `RawRecord` at a time.

A file is opened once and read front to back. Each record carries its ordinal (1 for the
first record) and the line it starts on, so a resumed import can skip what it already
handled and a rejected record can be found in the file. gzip is recognised by its magic
bytes, not the file name, so `export.jsonl` that is in fact compressed still reads.

CSV: the first row names the columns; a dotted column (`applicant.full_name`) fills a
nested record; a cell of an array or map field holds JSON (`["000.00.00.H12"]`). Cells are
text: the schema decides what each becomes (see convert.py).
"""

from __future__ import annotations

__all__ = [
    "FORMATS", "ExportFile", "Format", "RawRecord", "UnreadableRecord", "format_of", "raw_text",
]

import csv
import gzip
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Literal

import orjson

from gateway.errors import ImportFileError

Format = Literal["jsonl", "csv"]
FORMATS: tuple[Format, ...] = ("jsonl", "csv")
_GZIP_MAGIC = b"\x1f\x8b"
# The csv module's cell limit (128 KiB) is process-wide state shared with the reporting
# connector, so it is left as it is: a larger cell is one rejected record with its reason.


@dataclass(frozen=True, slots=True)
class RawRecord:
    """One record as read: its place in the file and its fields, not yet validated.

    `text` is true for CSV: every scalar is a string for the schema to interpret.
    """

    ordinal: int
    line: int
    fields: dict[str, Any]
    raw: bytes | None
    """The line as read (JSON Lines); None for CSV, whose fields say it all."""
    text: bool


@dataclass(frozen=True, slots=True)
class UnreadableRecord:
    """A line that is not a record at all (not JSON, not an object, a CSV row too long)."""

    ordinal: int
    line: int
    reason: str
    raw: str


def format_of(path: Path, given: Format | None) -> Format:
    """The format named by `--format`, else by the file name (`.jsonl`, `.csv`, then `.gz`)."""
    if given is not None:
        return given
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes.pop()
    last = suffixes[-1] if suffixes else ""
    if last in (".jsonl", ".ndjson", ".json"):
        return "jsonl"
    if last == ".csv":
        return "csv"
    raise ImportFileError(
        f"{path}: cannot tell the format from the name; give --format jsonl or --format csv")


class ExportFile:
    """An open export file: records in order, and how far through the file reading is."""

    def __init__(self, path: Path, fmt: Format) -> None:
        self.path = path
        self.format = fmt
        try:
            self._file: BinaryIO = path.open("rb")
        except OSError as exc:
            raise ImportFileError(f"cannot read {path}: {exc.strerror or exc}") from exc
        self.size = _size(self._file)
        try:
            magic = self._file.read(2)
            self._file.seek(0)
        except OSError as exc:
            self._file.close()
            raise ImportFileError(f"cannot read {path}: {exc.strerror or exc}") from exc
        self.compressed = magic == _GZIP_MAGIC
        self._stream: BinaryIO = (
            gzip.GzipFile(fileobj=self._file, mode="rb")  # type: ignore[assignment]
            if self.compressed else self._file)

    def fileno(self) -> int:
        """The descriptor of the file on disk (for locking)."""
        return self._file.fileno()

    @property
    def position(self) -> int:
        """Bytes of the file on disk read so far (compressed bytes for gzip)."""
        try:
            return self._file.tell()
        except (OSError, ValueError):
            return self.size

    def close(self) -> None:
        """Close the file."""
        self._stream.close()
        self._file.close()

    def __enter__(self) -> ExportFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def records(self, skip: int = 0) -> Iterator[RawRecord | UnreadableRecord]:
        """Every record after the first `skip` (those are counted, not parsed)."""
        try:
            if self.format == "jsonl":
                yield from self._jsonl(skip)
            else:
                yield from self._csv(skip)
        except (OSError, EOFError, gzip.BadGzipFile) as exc:
            raise ImportFileError(f"cannot read {self.path}: {exc}") from exc
        except UnicodeDecodeError as exc:
            raise ImportFileError(f"{self.path} is not UTF-8 text: {exc.reason} at byte "
                                  f"{exc.start} of a line") from exc

    def _jsonl(self, skip: int) -> Iterator[RawRecord | UnreadableRecord]:
        ordinal = 0
        for line_no, line in enumerate(self._stream, start=1):
            stripped = line.strip()
            if not stripped:
                continue  # blank lines (a trailing newline, a separator) are not records
            ordinal += 1
            if ordinal <= skip:
                continue
            try:
                doc = orjson.loads(stripped)
            except orjson.JSONDecodeError as exc:
                yield UnreadableRecord(ordinal, line_no, f"not JSON: {exc}",
                                       stripped.decode(errors="replace"))
                continue
            if not isinstance(doc, dict):
                yield UnreadableRecord(ordinal, line_no, "not a JSON object",
                                       stripped.decode(errors="replace"))
                continue
            yield RawRecord(ordinal, line_no, doc, stripped, text=False)

    def _csv(self, skip: int) -> Iterator[RawRecord | UnreadableRecord]:
        text = io.TextIOWrapper(self._stream, encoding="utf-8-sig", newline="")
        reader = csv.reader(text)
        try:
            header = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise ImportFileError(f"{self.path}: the CSV header cannot be read: {exc}") from exc
        columns = [name.strip() for name in header]
        _check_header(self.path, columns)
        paths = [name.split(".") for name in columns]
        ordinal = 0
        start = reader.line_num + 1
        while True:
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                ordinal += 1
                yield UnreadableRecord(ordinal, start, f"not CSV: {exc}", "")
                start = reader.line_num + 1
                continue
            line_no, start = start, reader.line_num + 1
            if not row or row == [""]:
                continue
            ordinal += 1
            if ordinal <= skip:
                continue
            if len(row) != len(columns):
                yield UnreadableRecord(ordinal, line_no, f"{len(row)} cells, but the header "
                                       f"names {len(columns)} columns", _csv_line(row))
                continue
            fields: dict[str, Any] = {}
            for path, cell in zip(paths, row, strict=True):
                _put(fields, path, cell)
            yield RawRecord(ordinal, line_no, fields, None, text=True)


def raw_text(record: RawRecord) -> str:
    """The record as the rejected file shows it: the line as read, or the CSV row's JSON."""
    if record.raw is not None:
        return record.raw.decode(errors="replace")
    return orjson.dumps(record.fields).decode()


def _check_header(path: Path, columns: list[str]) -> None:
    seen: set[str] = set()
    for name in columns:
        if not name:
            raise ImportFileError(f"{path}: the CSV header has an empty column name")
        if name in seen:
            raise ImportFileError(f"{path}: the CSV header names column {name!r} twice")
        seen.add(name)
    for name in columns:
        # `a` and `a.b` cannot both be columns: `a` would be text and a record at once.
        parts = name.split(".")
        for i in range(1, len(parts)):
            if ".".join(parts[:i]) in seen:
                raise ImportFileError(f"{path}: CSV columns {'.'.join(parts[:i])!r} and "
                                      f"{name!r} clash (one is a part of the other)")


def _put(fields: dict[str, Any], path: list[str], value: str) -> None:
    node = fields
    for part in path[:-1]:
        node = node.setdefault(part, {})
    node[path[-1]] = value


def _csv_line(row: list[str]) -> str:
    out = io.StringIO()
    csv.writer(out).writerow(row)
    return out.getvalue().rstrip("\r\n")


def _size(file: BinaryIO) -> int:
    try:
        file.seek(0, io.SEEK_END)
        size = file.tell()
        file.seek(0)
        return size
    except OSError:
        return 0
