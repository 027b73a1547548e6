"""The `reporting` connector: publishes report files dropped into a folder.

Drop protocol: the reporting system writes a file under a temporary name (a dotfile or
`*.tmp`/`*.part`, both ignored) and renames it to `*.csv` or `*.json` when complete; as a
guard for writers that copy in place, a file is also left alone until it is
`file.min.age.ms` old. Files of other types are ignored (logged once).

Each taken file is read whole and published all or nothing: `emit` (Kafka acknowledged),
then the move to processed/ is the commit. A crash in between leaves the file in place;
it is published again with the same transaction ids, because the source id is
`<sha256 of the content>:<index of the report in the file>`. A malformed file moves to
failed/ with `<file>.reason.txt` naming the line or path and the field; nothing of it is
published. All file I/O runs in worker threads, off the event loop.

Hostile or broken files go to failed/ the same way and never stop the connector: a file is
opened without following links (a symlink swapped in after the scan is refused), must be
a regular file with one link (a hard link could expose a file from elsewhere) and is
read only up to file.max.bytes; a name that is not UTF-8, text that is not UTF-8, a CSV
field over the csv module's limit, an empty file and a record over Kafka's maximum size
are refused with their reason. The folders themselves are confined to the gateway's
LGSP_CONNECTOR_FILES__ROOT (see config.py).
"""

from __future__ import annotations

import asyncio
import errno
import hashlib
import os
import shutil
import stat
import time
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from connectors.reporting.config import ReportingConfig
from connectors.reporting.formats import Report, ReportFileError, parse_reports
from gateway.backoff import Backoff
from gateway.connect.plugin import SourceConnector, SourceContext, SourceRecord
from gateway.errors import ConfigError, ContractError, KafkaError
from gateway.logs import get_logger, redact_text

MESSAGE_TYPE = "reporting.report_submission"
_TAKEN = (".csv", ".json")
_IN_PROGRESS = (".tmp", ".part", ".partial", ".filepart", ".crdownload")

log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class _Candidate:
    path: Path
    size: int
    mtime: float


class ReportingConnector(SourceConnector[ReportingConfig]):
    """Watches a drop folder for report exports (CSV or JSON) of the reporting system."""

    plugin_name: ClassVar[str] = "reporting"
    source_system: ClassVar[str] = "reporting"
    config_model: ClassVar[type[ReportingConfig]] = ReportingConfig
    description: ClassVar[str] = (
        "Publishes report files (CSV or JSON) dropped into a folder as "
        "reporting.report_submission; moves them to processed/ or failed/ with the reason."
    )

    def __init__(self, config: ReportingConfig, context: SourceContext) -> None:
        super().__init__(config, context)
        self._files = int((context.position or {}).get("files", 0))
        self._ignored: set[str] = set()
        self._backoff = Backoff(config.poll_interval_ms / 1000,
                                config.retry_backoff_max_ms / 1000).timer()

    async def start(self) -> None:
        """Check watch.dir and create processed/ and failed/; ConfigError names the field."""
        await asyncio.to_thread(self._prepare_dirs)

    async def run(self) -> None:
        """Scan, publish, move; a Kafka or folder outage pauses with backoff, never fails."""
        interval = self.config.poll_interval_ms / 1000
        while True:
            try:
                await self.scan_once()
            except (KafkaError, OSError) as exc:
                if isinstance(exc, KafkaError) and not exc.retriable:
                    raise
                delay = self._backoff.next_delay()
                log.warning("reporting_scan_failed", connector=self.context.name,
                            error=str(exc), retry_in_s=round(delay, 2))
            else:
                self._backoff.reset()
                delay = interval
            await asyncio.sleep(delay)

    async def scan_once(self) -> int:
        """Take every complete file now in the folder; returns how many were handled."""
        candidates = await asyncio.to_thread(self._complete_files)
        for candidate in candidates:
            await self._take(candidate)
        return len(candidates)

    async def _take(self, candidate: _Candidate) -> None:
        path = candidate.path
        if _shown(path.name) != path.name:
            # The name travels in the payload (source_file) and in every log line: a name
            # that is not UTF-8 cannot, so the file is refused before it is read.
            await self._fail(path, "file name is not UTF-8; rename the export")
            return
        if candidate.size > self.config.file_max_bytes:
            await self._fail(path, f"file is {candidate.size} bytes, more than file.max.bytes="
                                   f"{self.config.file_max_bytes}")
            return
        try:
            # Reading, hashing and parsing a file of up to file.max.bytes is slow work:
            # all of it in a worker thread, so the event loop (and every other connector
            # sharing it) keeps going.
            digest, parsed = await asyncio.to_thread(
                _read_and_parse, path, self.config.file_max_bytes)
        except _Refused as exc:
            await self._fail(path, str(exc))
            return
        except OSError as exc:
            # Gone or unreadable right now: try again next scan, and do not hold up the
            # other files behind this one.
            log.warning("reporting_file_unreadable", connector=self.context.name,
                        file=path.name, error=f"{type(exc).__name__}: {exc.strerror or exc}")
            return
        try:
            if isinstance(parsed, ReportFileError):
                raise parsed
            records = [
                SourceRecord(
                    source_id=f"{digest}:{i}",
                    message_type=MESSAGE_TYPE,
                    payload=report.payload(path.name),
                    business_key=report.business_key,
                    occurred_at=report.submitted_at,
                    # Every submission and correction of one unit's report for one period.
                    correlation_id=report.business_key,
                )
                for i, report in enumerate(parsed)
            ]
            await self.context.emit(records)
        except ContractError as exc:
            # ReportFileError, a payload the schema refused or a record larger than Kafka
            # takes: nothing was published.
            await self._fail(path, str(exc))
            return
        moved = await asyncio.to_thread(_move, path, self.config.processed, digest)
        self._files += 1
        log.info("reporting_file_published", connector=self.context.name, file=path.name,
                 reports=len(records), moved_to=str(moved))
        # Informational: the move above is what keeps the file from being read again.
        await self.context.commit_position(
            {"files": self._files, "last_file": path.name, "last_sha256": digest})

    async def _fail(self, path: Path, reason: str) -> None:
        reason = redact_text(reason)
        log.warning("reporting_file_refused", connector=self.context.name,
                    file=_shown(path.name), reason=reason)
        await asyncio.to_thread(_move_failed, path, self.config.failed, reason)

    def _prepare_dirs(self) -> None:
        watch = self.config.watch_dir
        if not watch.is_dir():
            raise ConfigError(f"invalid connector config: watch.dir: {watch} is not a folder")
        for key, folder in (("processed.dir", self.config.processed),
                            ("failed.dir", self.config.failed)):
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise ConfigError(
                    f"invalid connector config: {key}: cannot create {folder}: "
                    f"{exc.strerror or exc}") from exc

    def _complete_files(self) -> list[_Candidate]:
        """Files ready to take, oldest first (runs in a worker thread)."""
        now = time.time()
        min_age = self.config.file_min_age_ms / 1000
        found: list[_Candidate] = []
        with os.scandir(self.config.watch_dir) as entries:
            for entry in entries:
                name = entry.name
                lower = name.lower()
                # A symlink is taken (and refused when opened, so it lands in failed/
                # with its reason) rather than silently left in the folder.
                if (name.startswith((".", "~$")) or lower.endswith(_IN_PROGRESS)
                        or not (entry.is_file(follow_symlinks=False) or entry.is_symlink())):
                    continue
                if not lower.endswith(_TAKEN):
                    if name not in self._ignored:
                        self._ignored.add(name)
                        log.warning("reporting_file_ignored", connector=self.context.name,
                                    file=_shown(name), reason="not .csv or .json")
                    continue
                info = entry.stat(follow_symlinks=False)
                if now - info.st_mtime >= min_age:
                    found.append(_Candidate(Path(entry.path), info.st_size, info.st_mtime))
        found.sort(key=lambda c: (c.mtime, c.path.name))
        return found


class _Refused(Exception):  # noqa: N818 - a verdict on a file, not a program error
    """The file is not read at all (a link, too large); the message says why."""


def _shown(name: str) -> str:
    """A file name as it can be logged and written: undecodable bytes as \\xNN escapes."""
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


# O_NOFOLLOW: the check at scan time proves nothing about the name at open time (a link
# can be swapped in between). O_NONBLOCK: a FIFO put in its place must not hang the read.
_OPEN_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)


def _read_bounded(path: Path, max_bytes: int) -> bytes:
    """The content of a regular, singly linked file of at most `max_bytes` bytes."""
    try:
        fd = os.open(path, _OPEN_FLAGS)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise _Refused("file is a symbolic link; drop the file itself") from exc
        raise
    with os.fdopen(fd, "rb", buffering=0) as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise _Refused("not a regular file")
        if info.st_nlink > 1:
            # A hard link makes a file outside the drop folder readable (and movable)
            # through it; an export is written here, not linked in.
            raise _Refused(f"file has {info.st_nlink} hard links; drop a copy instead")
        chunks: list[bytes] = []
        total = 0
        # The size seen at scan time can be outgrown by a writer still appending.
        while chunk := handle.read(min(1024 * 1024, max_bytes + 1 - total)):
            chunks.append(chunk)
            total += len(chunk)
            if total > max_bytes:
                raise _Refused(f"file grew past file.max.bytes={max_bytes} while being read")
    return b"".join(chunks)


def _read_and_parse(path: Path, max_bytes: int) -> tuple[str, list[Report] | ReportFileError]:
    """The content's SHA-256 and its reports, or why it has none (runs in a worker thread)."""
    content = _read_bounded(path, max_bytes)
    digest = hashlib.sha256(content).hexdigest()
    try:
        return digest, parse_reports(path.name, content)
    except ReportFileError as exc:
        return digest, exc


def _target(folder: Path, name: str, tag: str) -> Path:
    """`folder/name`, or the name tagged (content hash, time) if another file has it."""
    target = folder / name
    if not target.exists():
        return target
    stem, dot, suffix = name.rpartition(".")
    return folder / (f"{stem}.{tag}.{suffix}" if dot else f"{name}.{tag}")


def _move(path: Path, folder: Path, digest: str) -> Path:
    target = _target(folder, path.name, digest[:12])
    # shutil.move renames atomically on one filesystem and still works across two.
    shutil.move(path, target)
    return target


def _move_failed(path: Path, folder: Path, reason: str) -> None:
    target = _target(folder, path.name, f"{time.time_ns():x}")
    # Reason first: a crash in between leaves the file to be refused again, never a
    # failed file without its reason.
    target.with_name(target.name + ".reason.txt").write_text(reason + "\n", encoding="utf-8")
    shutil.move(path, target)
