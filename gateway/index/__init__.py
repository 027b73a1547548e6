"""The transaction index: every transaction's state, queryable in milliseconds.

A projection of the gateway's topics, which stay the source of truth: the connector
topics (envelope: ingest coordinates, business key, source system and agency), the
ledger (outcomes, attempts, receipts, errors), the dead-letter topic, the replay topic
and the replay audit (who replayed what). `Indexer` follows them into an `IndexStore`
(SQLite by default, PostgreSQL for production: `index.url`), with versioned migrations
(migrations.py) and its topic positions kept in the store itself, so it resumes exactly
after downtime and rebuilds from the topics when emptied (`lgsp index rebuild`).

Reads: `GET /transactions`, `GET /transactions/{id}`, `GET /services` (IndexService),
`lgsp trace`, `lgsp transactions find`, `lgsp services`; replay selection
(IndexSelector) when the index has caught up with the topics.
"""

from gateway.index.indexer import Indexer, index_group
from gateway.index.model import (
    Changes,
    Page,
    ServiceHealth,
    TraceRows,
    TransactionQuery,
    TransactionSummary,
)
from gateway.index.open import default_url, open_store, store_kind
from gateway.index.projection import Projector, summarise, trace_of
from gateway.index.rebuild import RebuildProgress, rebuild
from gateway.index.selection import IndexSelector
from gateway.index.service import IndexService, trace_from
from gateway.index.store import IndexStore

__all__ = [
    "Changes",
    "IndexSelector",
    "IndexService",
    "IndexStore",
    "Indexer",
    "Page",
    "Projector",
    "RebuildProgress",
    "ServiceHealth",
    "TraceRows",
    "TransactionQuery",
    "TransactionSummary",
    "default_url",
    "index_group",
    "open_store",
    "rebuild",
    "store_kind",
    "summarise",
    "trace_from",
    "trace_of",
]
