"""Fixtures of the index tests: a real PostgreSQL server for the session, and a fresh
store of each kind per test (`index_url` is parametrised over sqlite and postgres)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest

from gateway.contracts import Codec, SchemaRegistry
from gateway.settings import Settings
from tests.support.postgres import PostgresServer


@pytest.fixture(scope="session")
def codec() -> Codec:
    """The project's Avro contracts."""
    return Codec(SchemaRegistry.load(Settings().schemas_dir))


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """One PostgreSQL server for the whole session; fails (never skips) without one."""
    try:
        server = PostgresServer()
        server.start()
    except (RuntimeError, OSError) as exc:
        pytest.fail(f"no PostgreSQL server for the index tests: {exc}", pytrace=False)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(params=["sqlite", "postgres"])
async def index_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A new, empty index store of each kind."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'index.sqlite3'}"
    server: PostgresServer = request.getfixturevalue("postgres")
    name = f"t{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(server.url())
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return server.url(name)
