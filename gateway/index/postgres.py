"""The index on PostgreSQL (asyncpg): for production and for several gateway replicas.

Replicas share one database and split the topics' partitions through the indexer's
consumer group; writers of the same transaction take turns on its summary row
(`SELECT ... FOR UPDATE`, in id order so two batches cannot deadlock each other), so a
summary is always computed from every committed row.
"""

from __future__ import annotations

__all__ = ["PostgresDatabase"]

import re
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from gateway.errors import IndexStoreError
from gateway.index.store import Row, Transaction

_MIGRATION_LOCK = 0x6C677370  # "lgsp": one advisory lock id for schema migrations


@lru_cache(maxsize=256)
def _numbered(sql: str) -> str:
    """`?` placeholders as PostgreSQL's `$1, $2, ...` (the SQL has no `?` in literals)."""
    count = 0

    def number(_: re.Match[str]) -> str:
        nonlocal count
        count += 1
        return f"${count}"

    return re.sub(r"\?", number, sql)


class _PgTransaction:
    def __init__(self, conn: asyncpg.Connection | PoolConnectionProxy) -> None:
        self._conn = conn

    async def fetch(self, sql: str, *params: Any) -> list[Row]:
        return [tuple(r) for r in await self._conn.fetch(_numbered(sql), *params)]

    async def execute(self, sql: str, *params: Any) -> None:
        await self._conn.execute(_numbered(sql), *params)

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        await self._conn.executemany(_numbered(sql), rows)


def describe(url: str) -> str:
    """host:port/database of a URL, without user or password."""
    parts = urlsplit(url)
    host = parts.hostname or "localhost"
    return f"{host}:{parts.port or 5432}{parts.path or '/'}"


class PostgresDatabase:
    """A `Database` on a PostgreSQL server."""

    kind = "postgresql"

    def __init__(self, url: str, pool_size: int) -> None:
        self._url = url
        self.where = describe(url)
        self._pool_size = pool_size
        self._pool: asyncpg.Pool | None = None

    async def open(self) -> None:
        """Connect a pool (one line naming the server if that fails)."""
        try:
            self._pool = await asyncpg.create_pool(
                self._url, min_size=1, max_size=self._pool_size, command_timeout=60)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            raise IndexStoreError(f"cannot connect to the index at {self.where}: "
                                  f"{type(exc).__name__}: {exc}") from exc

    def _need(self) -> asyncpg.Pool:
        if self._pool is None:
            raise IndexStoreError(f"the index at {self.where} is not open")
        return self._pool

    async def fetch(self, sql: str, *params: Any) -> list[Row]:
        try:
            return [tuple(r) for r in await self._need().fetch(_numbered(sql), *params)]
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            raise IndexStoreError(f"index query failed ({self.where}): {exc}") from exc

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Transaction]:
        try:
            async with self._need().acquire() as conn, conn.transaction():
                yield _PgTransaction(conn)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            raise IndexStoreError(f"cannot write the index at {self.where}: "
                                  f"{type(exc).__name__}: {exc}") from exc

    def any_of(self, column: str, values: Sequence[str]) -> tuple[str, list[Any]]:
        return f"{column} = ANY(?::text[])", [list(values)]

    async def lock(self, tx: Transaction, ids: Sequence[str]) -> None:
        # The placeholder rows exist so there is a row to lock for a new transaction.
        await tx.execute("INSERT INTO index_transactions (transaction_id) SELECT t FROM "
                         "unnest(?::text[]) AS t ORDER BY t ON CONFLICT DO NOTHING",
                         list(ids))
        await tx.fetch("SELECT transaction_id FROM index_transactions WHERE transaction_id "
                       "= ANY(?::text[]) ORDER BY transaction_id FOR UPDATE", list(ids))

    async def migration_lock(self, tx: Transaction) -> None:
        await tx.fetch("SELECT pg_advisory_xact_lock(?)", _MIGRATION_LOCK)

    async def empty(self, tx: Transaction, tables: Sequence[str]) -> None:
        await tx.execute(f"TRUNCATE {', '.join(tables)}")

    async def copy(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]
                   ) -> None:
        try:
            async with self._need().acquire() as conn:
                await conn.copy_records_to_table(table, records=rows, columns=list(columns))
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            raise IndexStoreError(f"cannot write the index at {self.where}: {exc}") from exc

    async def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.close()
