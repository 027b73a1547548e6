"""Response bodies of the index endpoints (pydantic, at the edge; OpenAPI from these)."""

from __future__ import annotations

__all__ = ["ServiceHealthModel", "ServicesResponse", "TransactionModel", "TransactionsPage"]

from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict, Field

from gateway.index.model import ServiceHealth, TransactionSummary
from gateway.replay.masking import masked


def _time(ms: int | None) -> datetime | None:
    return None if ms is None else datetime.fromtimestamp(ms / 1000, UTC)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TransactionModel(_Model):
    """One transaction: where it came from and where it stands."""

    transaction_id: str
    status: str = Field(description="DELIVERED, DEAD_LETTERED, REPLAY_PENDING, HELD or IN_FLIGHT")
    at: datetime | None = Field(description="ingested (or first seen) at, UTC")
    updated_at: datetime | None
    business_key: str | None = Field(description="dossier code, document id or report id")
    source_system: str | None
    agency: str | None = Field(description="the source agency's code")
    connector: str | None
    message_type: str | None
    service: str | None
    attempts: int
    last_error_class: str | None
    last_error_message: str | None
    receipt_id: str | None
    delivered_at: datetime | None
    replays: int
    ingest_topic: str | None
    ingest_partition: int | None
    ingest_offset: int | None

    @classmethod
    def of(cls, s: TransactionSummary) -> TransactionModel:
        """The model of a summary; error messages masked as in traces."""
        return cls(
            transaction_id=s.transaction_id, status=s.status,
            at=_time(s.at_ms) if s.at_ms else None, updated_at=_time(s.updated_ms),
            business_key=s.business_key, source_system=s.source_system, agency=s.agency,
            connector=s.connector, message_type=s.message_type, service=s.service,
            attempts=s.attempts, last_error_class=s.error_class,
            last_error_message=masked(s.error_message) or None, receipt_id=s.receipt_id,
            delivered_at=_time(s.delivered_ms), replays=s.replays,
            ingest_topic=s.ingest_topic, ingest_partition=s.ingest_partition,
            ingest_offset=s.ingest_offset)


class TransactionsPage(_Model):
    """`GET /transactions`: newest first; pass `next_cursor` as `cursor` for more."""

    transactions: list[TransactionModel]
    next_cursor: str | None = Field(description="null on the last page")


class ServiceHealthModel(_Model):
    """One national service's health data (after X-Road's health data fields)."""

    service: str
    period_s: int = Field(description="the statistics period these counts cover")
    successes: int = Field(description="delivered in the period")
    failures: int = Field(description="attempt chains that failed in the period")
    last_success_at: datetime | None
    last_failure_at: datetime | None
    duration_min_ms: float | None
    duration_avg_ms: float | None
    duration_max_ms: float | None

    @classmethod
    def of(cls, h: ServiceHealth) -> ServiceHealthModel:
        """The model of a service's health."""
        return cls(service=h.service, period_s=h.period_s, successes=h.successes,
                   failures=h.failures, last_success_at=_time(h.last_success_ms),
                   last_failure_at=_time(h.last_failure_ms),
                   duration_min_ms=h.duration_min_ms, duration_avg_ms=h.duration_avg_ms,
                   duration_max_ms=h.duration_max_ms)


class ServicesResponse(_Model):
    """`GET /services`: every national service the ledger names."""

    period_s: int
    services: list[ServiceHealthModel]
