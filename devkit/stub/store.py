"""Durable idempotency: accepted keys and their receipts, in memory and in the journal.

Group commit: `accept` puts a new key in a buffer and waits; one owned flusher task
writes the whole buffer with a single `asyncio.to_thread` call (write, then fsync) and
only then resolves the waiting requests. So a 200 leaves only once its key is durable,
the event loop never blocks on the disk, and the disk sees one write per batch however
many requests arrive while the previous batch is being written.

A key that is being committed sits in `_pending` with the future of its commit; a
concurrent request with the same key waits for that future and is answered as a
duplicate with the same receipt, so two racing requests give one unique and one
duplicate, never two receipts.
"""

from __future__ import annotations

__all__ = ["IdempotencyStore", "KeyConflictError", "StoreUnavailableError"]

import asyncio
import contextlib
import itertools
import secrets
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from devkit.stub.journal import Journal, JournalRecord
from gateway.logs import get_logger

_log = get_logger(__name__)


class StoreUnavailableError(Exception):
    """The store cannot take a key now (loading, shutting down, or the disk failed)."""


class KeyConflictError(Exception):
    """The key was accepted before for another national service."""

    def __init__(self, key: str, service: str) -> None:
        super().__init__(f"Idempotency-Key {key!r} was already used for service {service}")
        self.key = key
        self.service = service


@dataclass(frozen=True, slots=True)
class _Loaded:
    receipts: dict[str, JournalRecord]
    unique: Counter[str]


class IdempotencyStore:
    """Accepted idempotency keys of one stub, durable across restarts.

    Lifecycle: `await open()` (lock the journal; fails fast), `await load()` (read it;
    until then `accept` refuses), `accept` many times, `await close()`.
    """

    def __init__(self, journal: Journal) -> None:
        self._journal = journal
        self._receipts: dict[str, JournalRecord] = {}
        self._unique: Counter[str] = Counter()
        self._pending: dict[str, asyncio.Future[JournalRecord]] = {}
        self._buffer: list[JournalRecord] = []
        self._wake = asyncio.Event()
        self._flusher: asyncio.Task[None] | None = None
        self._loaded = False
        self._loaded_event = asyncio.Event()
        self._closing = False

    @property
    def loaded(self) -> bool:
        """Whether the journal has been read and keys are being accepted."""
        return self._loaded and not self._closing

    @property
    def state(self) -> str:
        """`loading`, `ready` or `stopping`, as /readyz reports it."""
        if self._closing:
            return "stopping"
        return "ready" if self._loaded else "loading"

    async def wait_loaded(self) -> None:
        """Return once the journal has been read."""
        await self._loaded_event.wait()

    def unique_by_service(self) -> Mapping[str, int]:
        """Durably accepted keys per service, including those loaded from the journal."""
        return self._unique

    async def open(self) -> None:
        """Open and lock the journal; raises ConfigError when it cannot be had."""
        await asyncio.to_thread(self._journal.open)

    async def load(self) -> None:
        """Read the journal, then start accepting keys (and the flusher that writes them)."""
        reading = asyncio.ensure_future(asyncio.to_thread(self._read))
        try:
            loaded = await asyncio.shield(reading)
        except asyncio.CancelledError:
            # The worker thread cannot be interrupted; let it finish before the journal
            # is closed underneath it.
            await asyncio.wait([reading])
            raise
        self._receipts = loaded.receipts
        self._unique = loaded.unique
        self._flusher = asyncio.create_task(self._flush_forever(), name="stub-journal-flusher")
        self._loaded = True
        self._loaded_event.set()
        _log.info("stub idempotency journal loaded", path=str(self._journal.path),
                  keys=len(self._receipts))

    def _read(self) -> _Loaded:
        receipts: dict[str, JournalRecord] = {}
        for record in self._journal.read():
            receipts.setdefault(record.key, record)
        return _Loaded(receipts, Counter(record.service for record in receipts.values()))

    async def accept(self, key: str, service: str) -> tuple[JournalRecord, bool]:
        """The receipt for `key` and whether it is a duplicate; returns once it is durable.

        Raises KeyConflictError if the key belongs to another service, and
        StoreUnavailableError if the key cannot be made durable now.
        """
        record = self._receipts.get(key)
        if record is None:
            pending = self._pending.get(key)
            if pending is None:
                return await self._commit(key, service), False
            # shield: a caller that goes away must not cancel the commit others wait on.
            record = await asyncio.shield(pending)
        if record.service != service:
            raise KeyConflictError(key, record.service)
        return record, True

    async def find(self, key: str, service: str) -> JournalRecord | None:
        """The durable receipt of `key` for `service`, or None.

        A key still being committed is waited for, so a lookup racing its own delivery
        sees the outcome. Raises StoreUnavailableError while the journal is loading.
        """
        if not self._loaded:
            raise StoreUnavailableError("the stub is still loading its idempotency journal")
        record = self._receipts.get(key)
        if record is None:
            pending = self._pending.get(key)
            if pending is None:
                return None
            record = await asyncio.shield(pending)
        return record if record.service == service else None

    async def _commit(self, key: str, service: str) -> JournalRecord:
        if not self.loaded or self._flusher is None or self._flusher.done():
            raise StoreUnavailableError(
                "the stub is shutting down" if self._closing
                else "the stub is still loading its idempotency journal"
            )
        record = JournalRecord(key, service, _new_receipt_id(), _now())
        future: asyncio.Future[JournalRecord] = asyncio.get_running_loop().create_future()
        self._pending[key] = future
        self._buffer.append(record)
        self._wake.set()
        return await asyncio.shield(future)

    async def _flush_forever(self) -> None:
        try:
            while not (self._closing and not self._buffer):
                await self._wake.wait()
                self._wake.clear()
                if self._buffer:
                    batch, self._buffer = self._buffer, []
                    await self._flush(batch)
        finally:
            # Only reached with work left if close() gave up waiting: nobody may hang.
            self._fail(self._buffer, StoreUnavailableError("the stub is shutting down"))
            self._buffer = []

    async def _flush(self, batch: list[JournalRecord]) -> None:
        data = b"".join(record.encode() for record in batch)
        writing = asyncio.ensure_future(asyncio.to_thread(self._journal.append, data))
        try:
            await asyncio.shield(writing)
        except OSError:
            pass  # settled below: these requests get a 503, the stub carries on
        except asyncio.CancelledError:
            # A worker thread cannot be interrupted: wait for the write to end, so the
            # journal is never closed underneath it, and answer its requests truthfully.
            await asyncio.wait([writing])
            raise
        finally:
            self._settle(batch, writing)

    def _settle(self, batch: list[JournalRecord], writing: asyncio.Future[None]) -> None:
        if not writing.done() or writing.cancelled():
            self._fail(batch, StoreUnavailableError("the stub is shutting down"))
            return
        error = writing.exception()
        if error is not None:
            _log.error("stub journal write failed", path=str(self._journal.path),
                       error=str(error), keys=len(batch))
            self._fail(batch, StoreUnavailableError(f"the stub could not record the key: {error}"))
            return
        for record in batch:
            self._receipts[record.key] = record
            self._unique[record.service] += 1
            future = self._pending.pop(record.key)
            if not future.done():
                future.set_result(record)

    def _fail(self, batch: list[JournalRecord], error: StoreUnavailableError) -> None:
        for record in batch:
            future = self._pending.pop(record.key, None)
            if future is not None and not future.done():
                future.set_exception(error)
                # Mark it retrieved: its waiters may all have gone, and asyncio would
                # otherwise log "exception was never retrieved" at garbage collection.
                future.exception()

    async def close(self, timeout_s: float = 10.0) -> None:
        """Write what is buffered, stop the flusher and close the journal."""
        self._closing = True
        self._wake.set()
        flusher, self._flusher = self._flusher, None
        try:
            if flusher is not None:
                await self._stop_flusher(flusher, timeout_s)
        finally:
            await asyncio.to_thread(self._journal.close)

    @staticmethod
    async def _stop_flusher(flusher: asyncio.Task[None], timeout_s: float) -> None:
        try:
            done, _ = await asyncio.wait([flusher], timeout=timeout_s)
        finally:
            # Cancelled ourselves, or the drain took too long: the flusher goes too.
            if not flusher.done():
                _log.error("stub journal flusher stopped before it drained",
                           timeout_s=timeout_s)
                flusher.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await flusher
        if done:
            flusher.result()  # a crashed flusher surfaces here rather than vanishing


# Receipt ids: a random per-process prefix and a counter. uuid4 per receipt costs a
# getrandom() syscall each, a tenth of the whole request on the profile; 64 random bits
# per process keep ids unique across restarts all the same.
_RECEIPT_PREFIX = f"NDXP-{secrets.token_hex(8)}"
_receipt_numbers = itertools.count(1)


def _new_receipt_id() -> str:
    return f"{_RECEIPT_PREFIX}{next(_receipt_numbers):016x}"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")
