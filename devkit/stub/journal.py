"""The append-only idempotency journal on disk: blocking file I/O, run in a worker thread.

One JSON line per accepted key: `{"key", "service", "receipt_id", "received_at"}`.
Every method here blocks; `IdempotencyStore` calls them with `asyncio.to_thread` so the
event loop never waits on the disk.

Crash safety: a write that fails is cut back off the file, and a torn last line left
by a crash mid-write is cut off when the journal is opened, so appends always start on
a fresh line. The file is locked (flock) so two stubs never write one journal.
"""

from __future__ import annotations

__all__ = ["JOURNAL_NAME", "Journal", "JournalRecord"]

import fcntl
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson

from gateway.errors import ConfigError
from gateway.logs import get_logger

JOURNAL_NAME = "idempotency.journal"
_READ_CHUNK = 1 << 20
_log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class JournalRecord:
    """One accepted idempotency key and the receipt it was given."""

    key: str
    service: str
    receipt_id: str
    received_at: str

    def encode(self) -> bytes:
        """The record as one journal line."""
        return orjson.dumps(
            {
                "key": self.key,
                "service": self.service,
                "receipt_id": self.receipt_id,
                "received_at": self.received_at,
            }
        ) + b"\n"


class Journal:
    """The journal file of one data directory (blocking; call from a worker thread)."""

    def __init__(self, data_dir: Path, *, fsync: bool = True) -> None:
        self.path = data_dir / JOURNAL_NAME
        self._fsync = fsync
        # A raw descriptor, not a buffered file: after a failed write a buffer would keep
        # the rejected bytes and write them later, behind the next record.
        self._fd: int | None = None

    def open(self) -> None:
        """Create the data dir, lock the journal and repair a torn tail.

        Raises ConfigError when the file cannot be opened or another stub holds it.
        """
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o640)
        except OSError as exc:
            raise ConfigError(f"cannot open the stub journal {self.path}: {exc.strerror}") from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            raise ConfigError(
                f"the stub journal {self.path} is in use by another running stub; "
                "give this one its own --data-dir"
            ) from exc
        try:
            self._cut_torn_tail(fd)
        except OSError as exc:
            os.close(fd)
            raise ConfigError(f"cannot repair the stub journal {self.path}: {exc}") from exc
        self._fd = fd

    def _cut_torn_tail(self, fd: int) -> None:
        size = os.fstat(fd).st_size
        if size == 0 or os.pread(fd, 1, size - 1) == b"\n":
            return
        # Walk back to the last complete line; everything after it was never acknowledged.
        position = size
        while position > 0:
            start = max(0, position - _READ_CHUNK)
            newline = os.pread(fd, position - start, start).rfind(b"\n")
            if newline >= 0:
                position = start + newline + 1
                break
            position = start
        os.ftruncate(fd, position)
        _log.warning("stub journal torn tail cut", path=str(self.path),
                     dropped_bytes=size - position)

    def read(self) -> Iterator[JournalRecord]:
        """Every complete record; a line that is not a record is skipped with a warning."""
        skipped = 0
        with self.path.open("rb") as handle:
            for line in handle:
                try:
                    item = orjson.loads(line)
                    record = JournalRecord(
                        str(item["key"]), str(item["service"]),
                        str(item["receipt_id"]), str(item["received_at"]),
                    )
                except (orjson.JSONDecodeError, KeyError, TypeError):
                    skipped += 1
                    continue
                yield record
        if skipped:
            _log.warning("stub journal lines skipped", path=str(self.path), skipped=skipped)

    def append(self, data: bytes) -> None:
        """Write complete lines and make them durable; on failure, cut them off again."""
        fd = self._require_open()
        position = os.fstat(fd).st_size
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            if self._fsync:
                os.fsync(fd)
        except OSError:
            # A half-written line would swallow the next record appended after it.
            os.ftruncate(fd, position)
            raise

    def close(self) -> None:
        """Close (and so unlock) the journal."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def _require_open(self) -> int:
        if self._fd is None:
            raise RuntimeError("the stub journal is not open")
        return self._fd
