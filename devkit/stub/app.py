"""Wiring: one aiohttp application with the stub's parts and their lifecycle."""

from __future__ import annotations

__all__ = ["STORE", "build_app"]

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable

from aiohttp import web

from devkit.stub.admin import AdminRoutes
from devkit.stub.auth import IpAllowList, TokenIssuer
from devkit.stub.config import StubConfig
from devkit.stub.exchange import ExchangeRoutes
from devkit.stub.faults import Faults
from devkit.stub.intake import Intake
from devkit.stub.journal import Journal
from devkit.stub.metering import Meter
from devkit.stub.stats import Stats
from devkit.stub.store import IdempotencyStore
from gateway.logs import get_logger

STORE = web.AppKey("store", IdempotencyStore)
"""The application's idempotency store (for the server to wait until it is loaded)."""

# Batches of a few hundred transactions exceed aiohttp's default 1 MiB body limit.
_MAX_BODY = 32 * 1024 * 1024
_log = get_logger(__name__)


def build_app(config: StubConfig) -> web.Application:
    """The stub as an aiohttp application; its journal opens when the app starts."""
    store = IdempotencyStore(Journal(config.data_dir, fsync=config.fsync))
    stats = Stats(store.unique_by_service)
    faults = Faults()
    meter = Meter(config.catalogue)
    intake = Intake(store, stats, meter, config.catalogue, max_batch=config.max_batch)
    app = web.Application(client_max_size=_MAX_BODY)
    app[STORE] = store
    ExchangeRoutes(
        intake,
        TokenIssuer(config.client_secret, config.token_ttl_s),
        IpAllowList(config.allowed_networks),
        faults,
        meter,
    ).add_to(app)
    AdminRoutes(store, stats, faults, config.catalogue).add_to(app)
    app.cleanup_ctx.append(_store_lifecycle(store, config.shutdown_timeout_s))
    return app


def _store_lifecycle(
    store: IdempotencyStore, timeout_s: float
) -> Callable[[web.Application], AsyncIterator[None]]:
    async def lifecycle(_app: web.Application) -> AsyncIterator[None]:
        # Opening (and locking) is quick and fails startup loudly; reading a long journal
        # is not, so it runs in the background while /readyz says 503.
        await store.open()
        loading = asyncio.create_task(_load(store), name="stub-journal-load")
        try:
            yield
        finally:
            loading.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await loading
            await store.close(timeout_s)

    return lifecycle


async def _load(store: IdempotencyStore) -> None:
    try:
        await store.load()
    except OSError as exc:
        # The stub stays up but never ready: /readyz keeps answering 503.
        _log.error("stub journal cannot be read", error=str(exc))
