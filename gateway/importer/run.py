"""One export file imported: read, validate, publish at full speed, checkpoint, resume.

Reading, validating and encoding run in a worker thread a batch at a time, so the event
loop stays free to collect Kafka's acknowledgements; the loop hands each prepared record
to the idempotent producer and keeps the in-order window (window.py) from which the
checkpoint advances once a second and at the end.
"""

from __future__ import annotations

__all__ = ["FileImport", "ImportListener", "ImportResult", "beside"]

import asyncio
import contextlib
import fcntl
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from gateway.contracts import Codec
from gateway.errors import ImportFileError, KafkaError
from gateway.headers import H_TRANSACTION
from gateway.importer.checkpoint import Checkpoint, CheckpointStore, FileIdentity, RunIdentity
from gateway.importer.prepare import Prepared, RecordPreparer
from gateway.importer.readers import ExportFile, Format, RawRecord, UnreadableRecord
from gateway.importer.rejects import Rejection, RejectsFile
from gateway.importer.shapes import RecordShape
from gateway.importer.tail import published_since
from gateway.importer.window import AckWindow
from gateway.kafka import Producer, TopicReader

_BATCH = 2000
_MAX_IN_FLIGHT = 50_000
_CHECKPOINT_EVERY_S = 1.0
_PROGRESS_EVERY_S = 0.2
_DRAIN_ON_INTERRUPT_S = 10.0


def beside(path: Path, suffix: str) -> Path:
    """A file next to the input: `<input><suffix>`."""
    return path.with_name(path.name + suffix)


@dataclass(frozen=True, slots=True)
class ImportResult:
    """What an import of one file did, this run and in total."""

    path: Path
    published: int
    rejected: int
    skipped: int
    """Found on the topic by a resume and not published again."""
    total_published: int
    total_rejected: int
    seconds: float
    resumed_at: int
    """Records a previous run had already handled (0 for a fresh import)."""
    already_finished: bool
    rejects_path: Path | None


class ImportListener:
    """Told how an import goes (the CLI draws a progress bar); does nothing by default."""

    def started(self, path: Path, size: int, resumed_at: int) -> None:
        """The file is open; `resumed_at` records were handled by an earlier run."""

    def progress(self, position: int, checkpoint: Checkpoint) -> None:
        """`position` bytes of the file read; counts as of the checkpoint so far."""


class FileImport:
    """Imports one file; `run` may be cancelled (Ctrl-C) and resumes when run again."""

    def __init__(self, path: Path, fmt: Format, *, shape: RecordShape, run: RunIdentity,
                 codec: Codec, producer: Producer, reader: TopicReader) -> None:
        self.path = path
        self.format = fmt
        self.run_identity = run
        self.checkpoints = CheckpointStore(beside(path, ".checkpoint.json"))
        self.rejects_path = beside(path, ".rejected.jsonl")
        self._shape = shape
        self._codec = codec
        self._producer = producer
        self._reader = reader

    async def run(self, listener: ImportListener | None = None) -> ImportResult:
        """Import the file (or the rest of it); raises ImportFileError or KafkaError."""
        listener = listener or ImportListener()
        started = time.monotonic()
        with ExportFile(self.path, self.format) as export:
            _lock(export, self.path)
            identity = await asyncio.to_thread(FileIdentity.of, self.path)
            checkpoint = await asyncio.to_thread(self.checkpoints.load)
            if checkpoint is not None:
                self._check_resumable(checkpoint, identity)
                if checkpoint.finished:
                    return self._result(checkpoint, checkpoint, started, already=True)
                skip = set(checkpoint.pending) | await published_since(
                    self._reader, self.run_identity.topic, checkpoint.offsets)
            else:
                checkpoint = Checkpoint(identity, self.run_identity, offsets={
                    tp.partition: end for tp, end in
                    (await self._reader.end_offsets([self.run_identity.topic])).items()})
                # Saved before the first record goes: a crash now still knows where to look.
                await asyncio.to_thread(self.checkpoints.save, checkpoint)
                skip = set()
            before = Checkpoint.from_json(checkpoint.to_json())
            listener.started(self.path, export.size, checkpoint.done_through)
            rejects = RejectsFile(self.rejects_path, keep_bytes=checkpoint.rejected_bytes)
            window = AckWindow(checkpoint, skip)
            try:
                await self._publish(export, window, rejects, listener)
            finally:
                rejects.close(remove_if_empty=checkpoint.finished)
        return self._result(before, checkpoint, started, already=False)

    def _check_resumable(self, checkpoint: Checkpoint, identity: FileIdentity) -> None:
        where = self.checkpoints.path
        if checkpoint.file != identity:
            raise ImportFileError(
                f"{self.path} changed since its import began (checkpoint {where}); import "
                "the changed file under another name, or move the checkpoint away to start "
                "over")
        differences = self.run_identity.differences(checkpoint.run)
        if differences:
            raise ImportFileError(
                f"{self.path} was being imported with other options: "
                f"{'; '.join(differences)}; run with the same options to resume, or move "
                f"{where} away to start over")

    async def _publish(self, export: ExportFile, window: AckWindow, rejects: RejectsFile,
                       listener: ImportListener) -> None:
        checkpoint = window.checkpoint
        records = export.records(skip=checkpoint.done_through)
        preparer = RecordPreparer(self._codec, self._shape, self.run_identity,
                                  file_name=self.path.name,
                                  max_record_bytes=self._producer.max_record_bytes)
        topic = self.run_identity.topic
        next_save = next_progress = time.monotonic()
        try:
            while True:
                batch = await asyncio.to_thread(_prepare_batch, records, preparer)
                if not batch:
                    break
                for item in batch:
                    if isinstance(item, Rejection):
                        rejects.write(item)
                        window.rejected(item.record, rejects.size)
                    elif item.transaction_id in window.skip:
                        window.skipped(item.ordinal, item.transaction_id)
                    else:
                        ack = await self._producer.send(
                            topic, item.value, key=item.key,
                            headers=((H_TRANSACTION, item.transaction_id.encode()),))
                        window.sent(item.ordinal, item.transaction_id,
                                    asyncio.ensure_future(ack))
                while len(window) > _MAX_IN_FLIGHT:
                    await window.wait_oldest()
                window.advance()
                now = time.monotonic()
                if now >= next_progress:
                    listener.progress(export.position, checkpoint)
                    next_progress = now + _PROGRESS_EVERY_S
                if now >= next_save:
                    await self._save(window, rejects)
                    next_save = now + _CHECKPOINT_EVERY_S
            await window.drain()
        except asyncio.CancelledError:
            # Ctrl-C: what Kafka acknowledges within a few seconds is kept; the rest is
            # found on the topic (or published) by the next run.
            with contextlib.suppress(KafkaError, TimeoutError):
                await asyncio.wait_for(window.drain(), _DRAIN_ON_INTERRUPT_S)
            await self._settle(window, rejects)
            listener.progress(export.position, checkpoint)
            raise
        except KafkaError as exc:
            await self._settle(window, rejects)
            raise KafkaError(
                f"Kafka did not acknowledge a record of {self.path.name} ({exc}); the "
                f"import stopped after record {checkpoint.done_through}: run the same "
                "command again to resume") from exc
        except BaseException:
            await self._settle(window, rejects)
            raise
        checkpoint.finished = True
        checkpoint.pending = []
        listener.progress(export.size, checkpoint)
        await self._save(window, rejects, final=True)

    async def _settle(self, window: AckWindow, rejects: RejectsFile) -> None:
        with contextlib.suppress(KafkaError):
            window.advance()
        window.abandon()
        await self._save(window, rejects)

    async def _save(self, window: AckWindow, rejects: RejectsFile, *, final: bool = False
                    ) -> None:
        def save() -> None:
            # The rejected file first: the checkpoint never counts what is not on disk.
            rejects.sync()
            checkpoint = window.checkpoint if final else window.freeze()
            self.checkpoints.save(checkpoint)
        await asyncio.to_thread(save)

    def _result(self, before: Checkpoint, after: Checkpoint, started: float, *, already: bool
                ) -> ImportResult:
        return ImportResult(
            path=self.path,
            published=after.published - before.published,
            rejected=after.rejected - before.rejected,
            skipped=after.skipped - before.skipped,
            total_published=after.published,
            total_rejected=after.rejected,
            seconds=time.monotonic() - started,
            resumed_at=before.done_through,
            already_finished=already,
            rejects_path=self.rejects_path if after.rejected else None,
        )


def _prepare_batch(records: Iterator[RawRecord | UnreadableRecord], preparer: RecordPreparer
                   ) -> list[Prepared | Rejection]:
    now = datetime.now(UTC)
    batch: list[Prepared | Rejection] = []
    for record in records:
        batch.append(preparer.prepare(record, now))
        if len(batch) >= _BATCH:
            break
    return batch


def _lock(export: ExportFile, path: Path) -> None:
    # Two imports of one file at once would both publish what neither has checkpointed.
    try:
        fcntl.flock(export.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise ImportFileError(f"another lgsp import of {path} is running") from None
    except OSError as exc:
        raise ImportFileError(f"cannot lock {path}: {exc.strerror or exc}") from exc
