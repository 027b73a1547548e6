"""`GET /transactions/{id}`: the trace of one transaction, documented in OpenAPI."""

from __future__ import annotations

__all__ = ["IngestionModel", "TraceEventModel", "TraceResponse", "trace_operations"]

from datetime import datetime

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from gateway.admin import Body, Operation, json_response
from gateway.admin.limits import ReadLimiter
from gateway.admin.models import ErrorResponse
from gateway.errors import ConfigError, FieldProblem
from gateway.replay.filters import check_transaction_id
from gateway.trace.render import trace_json
from gateway.trace.tracer import Tracer


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class TraceEventModel(_Model):
    """One step of a transaction's path."""

    at: datetime
    kind: str = Field(description="ingested, held, attempt, dead_lettered, "
                                  "replay_submitted, delivered")
    summary: str
    replay_id: str | None
    details: dict[str, str | int | float | bool | None]


class IngestionModel(_Model):
    """Where a connector published the transaction."""

    connector: str
    topic: str
    partition: int
    offset: int
    at: datetime | None
    found_by: str


class TraceResponse(_Model):
    """`GET /transactions/{id}`: the transaction's path, oldest event first."""

    model_config = ConfigDict(extra="forbid", from_attributes=True)

    transaction_id: str
    status: str = Field(description="DELIVERED, DEAD_LETTERED, REPLAY_PENDING, HELD or "
                                    "IN_FLIGHT")
    connector: str | None
    service: str | None
    message_type: str | None
    correlation_id: str | None
    ingested: IngestionModel | None
    events: list[TraceEventModel]
    receipt_id: str | None
    delivered_at: datetime | None
    replay_ids: list[str]


def trace_operations(tracer: Tracer, reads: ReadLimiter) -> list[Operation]:
    """The trace operation, bound to a `Tracer`, at most `reads` allows at once."""

    async def get_transaction(request: web.Request) -> web.Response:
        transaction_id = request.match_info["transaction_id"]
        try:
            check_transaction_id(transaction_id)
        except ValueError as exc:
            raise ConfigError("invalid transaction id", (FieldProblem("id", str(exc)),)) from exc
        trace = await tracer.trace(transaction_id)
        return json_response(TraceResponse.model_validate(trace_json(trace)))

    return [
        Operation("GET", "/transactions/{transaction_id}", reads.limited(get_transaction),
                  "Trace a transaction end to end", {
                      200: Body("Ingestion, attempts, dead letters, replays, receipt.",
                                TraceResponse),
                      400: Body("Malformed transaction id.", ErrorResponse),
                      404: Body("Unknown transaction id.", ErrorResponse),
                      429: Body("Too many traces and history reads at once; come back "
                                "after Retry-After seconds.", ErrorResponse),
                  }, tags=("trace",)),
    ]
