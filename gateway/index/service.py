"""The index inside the gateway process: the store, the indexer task, the read API.

A gateway `Service` (started after the router, stopped before it; `ready()` while the
indexer runs) and a `RouteProvider` (`GET /transactions`, `GET /transactions/{id}`,
`GET /services`). Replay selection in the same process reads the index through
`selector` (gateway/index/selection.py).
"""

from __future__ import annotations

__all__ = ["IndexService", "TraceSource", "trace_from"]

import time
from collections.abc import Sequence
from typing import Literal

from gateway.admin import RouteSpec
from gateway.contracts import Codec
from gateway.index.api import index_operations
from gateway.index.indexer import Indexer
from gateway.index.model import Page, ServiceHealth, TransactionQuery
from gateway.index.open import open_store
from gateway.index.projection import trace_of
from gateway.index.selection import IndexSelector
from gateway.index.store import IndexStore
from gateway.logs import get_logger
from gateway.settings import Settings
from gateway.topics import Topics
from gateway.trace import Tracer, TransactionTrace

_log = get_logger(__name__)
TraceSource = Literal["index", "topics"]


async def trace_from(store: IndexStore, tracer: Tracer, topics: Topics,
                     transaction_id: str) -> tuple[TransactionTrace, TraceSource]:
    """The trace from the index; from the topics if the index does not know the id yet
    (just ingested, or the index is still catching up). UnknownTransactionError if
    neither knows it."""
    rows = await store.trace_rows(transaction_id)
    if rows is not None:
        return trace_of(rows, topics), "index"
    return await tracer.trace(transaction_id), "topics"


class IndexService:
    """Owns the index store and the indexer for the gateway process."""

    def __init__(self, settings: Settings, *, codec: Codec, topics: Topics) -> None:
        self._settings = settings
        self._codec = codec
        self._topics = topics
        self._tracer = Tracer(settings.bootstrap_servers, topics, codec)
        self._store: IndexStore | None = None
        self._indexer: Indexer | None = None

    @property
    def store(self) -> IndexStore:
        """The open store (valid once started)."""
        if self._store is None:
            raise RuntimeError("the index service has not been started")
        return self._store

    async def start(self) -> None:
        """Open (and migrate) the store, then start the indexer."""
        store = await open_store(self._settings, self._topics)
        try:
            indexer = Indexer(self._settings, store, self._topics, self._codec)
            await indexer.start()
        except BaseException:
            await store.close()
            raise
        self._store, self._indexer = store, indexer
        _log.info("transaction index open", store=store.where)

    async def stop(self) -> None:
        """Stop the indexer (a batch in the middle rolls back), then close the store."""
        indexer, self._indexer = self._indexer, None
        store, self._store = self._store, None
        if indexer is not None:
            await indexer.stop()
        if store is not None:
            await store.close()

    def ready(self) -> bool:
        """While the indexer runs."""
        return self._indexer is not None and self._indexer.ready()

    def routes(self) -> Sequence[RouteSpec]:
        """`GET /transactions`, `GET /transactions/{id}`, `GET /services`."""
        return index_operations(self)

    def selector(self) -> IndexSelector:
        """Replay selection from this index."""
        return IndexSelector(self.store, self._settings.bootstrap_servers, self._topics,
                             self._codec,
                             catch_up_timeout_s=self._settings.index.catch_up_timeout_s)

    # -- what the API handlers call --------------------------------------------------------

    async def trace(self, transaction_id: str) -> tuple[TransactionTrace, TraceSource]:
        """The transaction's path, and where it came from."""
        return await trace_from(self.store, self._tracer, self._topics, transaction_id)

    async def find(self, query: TransactionQuery) -> Page:
        """One page of a filtered listing."""
        return await self.store.find(query)

    async def services(self) -> tuple[int, list[ServiceHealth]]:
        """The health period and every service's health data."""
        period = self._settings.index.health_period_s
        return period, await self.store.services(int(time.time() * 1000), period)
