"""Choosing and opening the index store from `index.url` (LGSP_INDEX__URL)."""

from __future__ import annotations

__all__ = ["default_url", "open_store", "store_kind"]

from pathlib import Path
from urllib.parse import unquote, urlsplit

from gateway.errors import FieldProblem, IndexUrlError
from gateway.index.postgres import PostgresDatabase
from gateway.index.sqlite import SqliteDatabase
from gateway.index.store import IndexStore
from gateway.settings import Settings
from gateway.topics import Topics

_POSTGRES = ("postgresql", "postgres")


def default_url(settings: Settings) -> str:
    """SQLite in the state directory: works with no set-up."""
    return f"sqlite:///{(settings.state_dir / 'index' / 'index.sqlite3').absolute()}"


def store_kind(url: str) -> str:
    """`sqlite` or `postgresql`; IndexUrlError for anything else."""
    scheme = urlsplit(url).scheme
    if scheme == "sqlite":
        return "sqlite"
    if scheme in _POSTGRES:
        return "postgresql"
    raise IndexUrlError("invalid index URL", (_problem(url),))


def _problem(url: str) -> FieldProblem:
    shown = url.rsplit("@", maxsplit=1)[-1]  # never echo a password
    return FieldProblem("index.url", f"{shown!r} is neither sqlite:///PATH nor "
                        "postgresql://USER@HOST:PORT/DATABASE")


def _sqlite_path(url: str) -> Path:
    # As SQLAlchemy reads them: sqlite:///relative/path, sqlite:////absolute/path.
    path = unquote(urlsplit(url).path)[1:]
    if not path:
        raise IndexUrlError("invalid index URL", (_problem(url),))
    return Path(path)


async def open_store(settings: Settings, topics: Topics | None = None, *,
                     url: str | None = None, migrate: bool = True) -> IndexStore:
    """Open the configured store, apply pending migrations; IndexStoreError if it cannot."""
    configured = settings.index.url.get_secret_value() if settings.index.url else None
    url = url or configured or default_url(settings)
    topics = topics or Topics(settings.topic_prefix)
    if store_kind(url) == "sqlite":
        sqlite = SqliteDatabase(_sqlite_path(url))
        await sqlite.open()
        store = IndexStore(sqlite, topics)
    else:
        # asyncpg reads postgresql:// and postgres:// alike.
        pg = PostgresDatabase(url, settings.index.pool_size)
        await pg.open()
        store = IndexStore(pg, topics)
    if migrate:
        try:
            await store.migrate()
        except BaseException:
            await store.close()
            raise
    return store
