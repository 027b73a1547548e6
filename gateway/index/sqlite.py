"""The index on SQLite (aiosqlite): embedded, one file, nothing to set up.

WAL journal: readers (API, CLI in another process) never wait for the writer. One
connection writes, serialised by a lock; another reads.
"""

from __future__ import annotations

__all__ = ["SqliteDatabase"]

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiosqlite

from gateway.errors import IndexStoreError
from gateway.index.store import Row, Transaction


class _SqliteTransaction:
    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn

    async def fetch(self, sql: str, *params: Any) -> list[Row]:
        async with self._conn.execute(sql, params) as cursor:
            return list(await cursor.fetchall())

    async def execute(self, sql: str, *params: Any) -> None:
        await self._conn.execute(sql, params)

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        await self._conn.executemany(sql, rows)


class SqliteDatabase:
    """A `Database` on one SQLite file."""

    kind = "sqlite"

    def __init__(self, path: Path) -> None:
        self.path = path
        self.where = str(path)
        self._writer: aiosqlite.Connection | None = None
        self._reader: aiosqlite.Connection | None = None
        self._write_lock = asyncio.Lock()

    async def open(self) -> None:
        """Create the file (and its directory) if needed and connect."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._writer = await self._connect()
            self._reader = await self._connect()
        except (OSError, sqlite3.Error) as exc:
            await self.close()
            raise IndexStoreError(f"cannot open the index {self.path}: {exc}") from exc

    async def _connect(self) -> aiosqlite.Connection:
        # isolation_level None: transactions are begun and ended explicitly below.
        conn = await aiosqlite.connect(self.path, isolation_level=None)
        await conn.execute("PRAGMA journal_mode=WAL")
        # NORMAL in WAL mode: a power cut can lose the last commits, never corrupt the
        # file; the positions roll back with the rows, so the index re-reads them.
        await conn.execute("PRAGMA synchronous=NORMAL")
        await conn.execute("PRAGMA busy_timeout=30000")
        await conn.execute("PRAGMA cache_size=-65536")
        return conn

    async def fetch(self, sql: str, *params: Any) -> list[Row]:
        conn = self._need(self._reader)
        try:
            async with conn.execute(sql, params) as cursor:
                return list(await cursor.fetchall())
        except sqlite3.Error as exc:
            raise IndexStoreError(f"index query failed ({self.path}): {exc}") from exc

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Transaction]:
        conn = self._need(self._writer)
        async with self._write_lock:
            try:
                await conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise IndexStoreError(f"cannot write the index {self.path}: {exc}") from exc
            try:
                yield _SqliteTransaction(conn)
            except BaseException:
                await conn.execute("ROLLBACK")
                raise
            try:
                await conn.execute("COMMIT")
            except sqlite3.Error as exc:
                await conn.execute("ROLLBACK")
                raise IndexStoreError(f"cannot write the index {self.path}: {exc}") from exc

    def any_of(self, column: str, values: Sequence[str]) -> tuple[str, list[Any]]:
        return f"{column} IN ({', '.join('?' for _ in values)})", list(values)

    async def lock(self, tx: Transaction, ids: Sequence[str]) -> None:
        """Nothing to do: BEGIN IMMEDIATE already makes writers take turns."""

    async def migration_lock(self, tx: Transaction) -> None:
        """Nothing to do: BEGIN IMMEDIATE already makes writers take turns."""

    async def empty(self, tx: Transaction, tables: Sequence[str]) -> None:
        for table in tables:
            # Without WHERE, SQLite truncates instead of deleting row by row.
            await tx.execute(f"DELETE FROM {table}")

    async def copy(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]
                   ) -> None:
        sql = (f"INSERT INTO {table} ({', '.join(columns)}) VALUES "
               f"({', '.join('?' for _ in columns)})")
        async with self.transaction() as tx:
            await tx.executemany(sql, rows)

    async def close(self) -> None:
        for conn in (self._reader, self._writer):
            if conn is not None:
                await conn.close()
        self._reader = self._writer = None

    def _need(self, conn: aiosqlite.Connection | None) -> aiosqlite.Connection:
        if conn is None:
            raise IndexStoreError(f"the index {self.path} is not open")
        return conn
