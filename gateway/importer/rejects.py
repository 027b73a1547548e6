"""The rejected file beside the input: one JSON line per refused record, with the reason.

`{"line": 17, "record": 16, "field": "applicant.identity_number", "reason": "...",
"raw": "<the record as read>"}`. It holds the province's records, personal data among
them, so it is created readable by its owner only. A resume cuts it back to the size its
checkpoint recorded, so a record rejected just before a crash is not listed twice.
"""

from __future__ import annotations

__all__ = ["Rejection", "RejectsFile"]

import os
from dataclasses import dataclass
from pathlib import Path

import orjson

from gateway.errors import ImportFileError


@dataclass(frozen=True, slots=True)
class Rejection:
    """One refused record: where it is in the input, which field, and why."""

    line: int
    record: int
    field: str
    reason: str
    raw: str


class RejectsFile:
    """Appends rejections; `sync` makes them durable and returns the size written."""

    def __init__(self, path: Path, *, keep_bytes: int) -> None:
        self.path = path
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
            os.ftruncate(fd, keep_bytes)
            os.lseek(fd, keep_bytes, os.SEEK_SET)
        except OSError as exc:
            raise ImportFileError(f"cannot write the rejected file {path}: "
                                  f"{exc.strerror or exc}") from exc
        self._file = os.fdopen(fd, "ab", buffering=64 * 1024)
        self._size = keep_bytes
        self.count = 0

    @property
    def size(self) -> int:
        """Bytes written so far (buffered ones included)."""
        return self._size

    def write(self, rejection: Rejection) -> None:
        """Append one rejection (buffered)."""
        line = orjson.dumps({"line": rejection.line, "record": rejection.record,
                             "field": rejection.field, "reason": rejection.reason,
                             "raw": rejection.raw}) + b"\n"
        try:
            self._file.write(line)
        except OSError as exc:
            raise ImportFileError(f"cannot write the rejected file {self.path}: "
                                  f"{exc.strerror or exc}") from exc
        self._size += len(line)
        self.count += 1

    def sync(self) -> int:
        """Flush and fsync; the file's size, for the checkpoint."""
        try:
            self._file.flush()
            os.fsync(self._file.fileno())
        except OSError as exc:
            raise ImportFileError(f"cannot write the rejected file {self.path}: "
                                  f"{exc.strerror or exc}") from exc
        return self._size

    def close(self, *, remove_if_empty: bool) -> None:
        """Close; an empty file is removed when asked (nothing was rejected)."""
        self._file.close()
        if remove_if_empty and self._size == 0:
            self.path.unlink(missing_ok=True)
