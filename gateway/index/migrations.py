"""The index's schema, as numbered migrations applied in order at start.

Each applied version is recorded in `index_schema_version`; a store opens only when
every migration up to the newest is applied, and refuses a schema newer than this code
knows (an older gateway must not write into a newer layout). The DDL is plain SQL that
SQLite and PostgreSQL both read; times are integer milliseconds since the epoch.
"""

from __future__ import annotations

__all__ = ["DATA_TABLES", "MIGRATIONS", "Migration"]

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Migration:
    """One schema version: what it adds and the statements that add it."""

    version: int
    description: str
    statements: tuple[str, ...]


_V1 = (
    """CREATE TABLE index_meta (
        name TEXT PRIMARY KEY,
        value BIGINT NOT NULL)""",
    "INSERT INTO index_meta (name, value) VALUES ('generation', 1)",
    # Where the index has read each partition to: every record before next_offset is in.
    """CREATE TABLE index_positions (
        topic TEXT NOT NULL,
        part INTEGER NOT NULL,
        next_offset BIGINT NOT NULL,
        PRIMARY KEY (topic, part))""",
    """CREATE TABLE index_ingestions (
        transaction_id TEXT PRIMARY KEY,
        connector TEXT NOT NULL,
        topic TEXT NOT NULL,
        part INTEGER NOT NULL,
        off BIGINT NOT NULL,
        at_ms BIGINT NOT NULL,
        business_key TEXT NOT NULL,
        source_system TEXT NOT NULL,
        agency TEXT NOT NULL,
        message_type TEXT NOT NULL,
        correlation_id TEXT NOT NULL,
        service TEXT)""",
    """CREATE TABLE index_outcomes (
        part INTEGER NOT NULL,
        off BIGINT NOT NULL,
        transaction_id TEXT NOT NULL,
        service TEXT,
        outcome TEXT NOT NULL,
        completed_ms BIGINT NOT NULL,
        duration_ms DOUBLE PRECISION,
        datum TEXT NOT NULL,
        PRIMARY KEY (part, off))""",
    "CREATE INDEX index_outcomes_tx ON index_outcomes (transaction_id)",
    "CREATE INDEX index_outcomes_service ON index_outcomes (service, completed_ms)",
    """CREATE TABLE index_dead_letters (
        part INTEGER NOT NULL,
        off BIGINT NOT NULL,
        transaction_id TEXT NOT NULL,
        timestamp_ms BIGINT NOT NULL,
        connector TEXT NOT NULL,
        service TEXT NOT NULL,
        error_class TEXT NOT NULL,
        message TEXT NOT NULL,
        attempts INTEGER NOT NULL,
        stage TEXT NOT NULL,
        http_status INTEGER,
        failed_topic TEXT NOT NULL,
        replay_id TEXT,
        PRIMARY KEY (part, off))""",
    "CREATE INDEX index_dead_letters_tx ON index_dead_letters (transaction_id)",
    """CREATE TABLE index_submissions (
        part INTEGER NOT NULL,
        off BIGINT NOT NULL,
        transaction_id TEXT NOT NULL,
        replay_id TEXT NOT NULL,
        at_ms BIGINT NOT NULL,
        marker TEXT,
        PRIMARY KEY (part, off))""",
    "CREATE INDEX index_submissions_tx ON index_submissions (transaction_id)",
    """CREATE TABLE index_replays (
        replay_id TEXT PRIMARY KEY,
        operator TEXT NOT NULL)""",
    # One row per transaction, derived from the rows above; what listings read.
    """CREATE TABLE index_transactions (
        transaction_id TEXT PRIMARY KEY,
        status TEXT,
        at_ms BIGINT,
        updated_ms BIGINT,
        business_key TEXT,
        source_system TEXT,
        agency TEXT,
        connector TEXT,
        message_type TEXT,
        service TEXT,
        attempts INTEGER,
        error_class TEXT,
        error_message TEXT,
        receipt_id TEXT,
        delivered_ms BIGINT,
        replays INTEGER,
        ingest_topic TEXT,
        ingest_part INTEGER,
        ingest_off BIGINT,
        dead_part INTEGER,
        dead_off BIGINT,
        pending_replay_id TEXT)""",
    "CREATE INDEX index_tx_at ON index_transactions (at_ms, transaction_id)",
    "CREATE INDEX index_tx_key ON index_transactions (business_key, at_ms, transaction_id)",
    "CREATE INDEX index_tx_service ON index_transactions (service, at_ms, transaction_id)",
    "CREATE INDEX index_tx_status ON index_transactions (status, at_ms, transaction_id)",
)

# The router holds transactions while their service is unavailable (hold topics).
_V2 = (
    """CREATE TABLE index_holds (
        topic TEXT NOT NULL,
        part INTEGER NOT NULL,
        off BIGINT NOT NULL,
        transaction_id TEXT NOT NULL,
        at_ms BIGINT NOT NULL,
        service TEXT NOT NULL,
        reason TEXT NOT NULL,
        PRIMARY KEY (topic, part, off))""",
    "CREATE INDEX index_holds_tx ON index_holds (transaction_id)",
)

MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "transactions, their detail rows, topic positions", _V1),
    Migration(2, "held copies (hold topics)", _V2),
)

DATA_TABLES = (
    "index_positions", "index_ingestions", "index_outcomes", "index_dead_letters",
    "index_submissions", "index_replays", "index_transactions", "index_holds",
)
"""What a rebuild empties (the schema and its version stay)."""
