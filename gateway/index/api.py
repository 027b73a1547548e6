"""The admin API operations of the index, documented in OpenAPI.

Every operation only reads: each carries `x-lgsp-role: viewer` (READ_ROLE) in its
OpenAPI entry, where access control finds the role it needs.
"""

from __future__ import annotations

__all__ = ["READ_ROLE", "index_operations"]

from typing import TYPE_CHECKING

from aiohttp import web

from gateway.admin import Body, Operation, QueryParameter, json_response
from gateway.admin.models import ErrorResponse
from gateway.errors import ConfigError, FieldProblem
from gateway.index.models import (
    ServiceHealthModel,
    ServicesResponse,
    TransactionModel,
    TransactionsPage,
)
from gateway.index.queries import OUTCOMES, encode_cursor, transaction_query
from gateway.replay.filters import check_transaction_id
from gateway.trace import trace_json
from gateway.trace.api import TraceResponse

if TYPE_CHECKING:
    from gateway.index.service import IndexService

READ_ROLE = "viewer"
_ROLE = {"x-lgsp-role": READ_ROLE}
_E400 = Body("Malformed query; the message names each bad field.", ErrorResponse)
_E503 = Body("The index store cannot be reached.", ErrorResponse)
_QUERY = (
    QueryParameter("business_key", "Dossier code, document id or report id (exact)."),
    QueryParameter("service", "National service code, e.g. QG.DVCQG.DONGBOHOSO."),
    QueryParameter("outcome", f"One of {', '.join(OUTCOMES)}."),
    QueryParameter("since", "Ingested at or after: ISO-8601 or an age (30m, 2h, 3d)."),
    QueryParameter("until", "Ingested before (same forms)."),
    QueryParameter("limit", "Rows per page (1-1000, default 50).", "integer"),
    QueryParameter("cursor", "next_cursor of the previous page."),
)


def index_operations(service: IndexService) -> list[Operation]:
    """The operations, bound to a running `IndexService`."""

    async def list_transactions(request: web.Request) -> web.Response:
        q = request.query
        unknown = sorted(set(q) - {p.name for p in _QUERY})
        if unknown:
            raise ConfigError("invalid query", tuple(
                FieldProblem(name, "unknown parameter") for name in unknown))
        query = transaction_query(
            business_key=q.get("business_key"), service=q.get("service"),
            outcome=q.get("outcome"), since=q.get("since"), until=q.get("until"),
            limit=q.get("limit"), cursor=q.get("cursor"))
        page = await service.find(query)
        return json_response(TransactionsPage(
            transactions=[TransactionModel.of(s) for s in page.rows],
            next_cursor=encode_cursor(page.next_after) if page.next_after else None))

    async def get_transaction(request: web.Request) -> web.Response:
        transaction_id = request.match_info["transaction_id"]
        try:
            check_transaction_id(transaction_id)
        except ValueError as exc:
            raise ConfigError("invalid transaction id", (FieldProblem("id", str(exc)),)) from exc
        trace, source = await service.trace(transaction_id)
        response = json_response(TraceResponse.model_validate(trace_json(trace)))
        response.headers["X-LGSP-Trace-Source"] = source
        return response

    async def list_services(request: web.Request) -> web.Response:
        period, health = await service.services()
        return json_response(ServicesResponse(
            period_s=period, services=[ServiceHealthModel.of(h) for h in health]))

    return [
        Operation("GET", "/transactions", list_transactions, "Find transactions", {
            200: Body("Matching transactions, newest first.", TransactionsPage),
            400: _E400, 503: _E503,
        }, query=_QUERY, tags=("index",), extra=_ROLE, description=(
            "Served by the transaction index: every given filter must match. Pages are "
            "keyset-paginated: pass next_cursor back as cursor.")),
        Operation("GET", "/transactions/{transaction_id}", get_transaction,
                  "Trace a transaction end to end", {
                      200: Body("Ingestion, attempts, dead letters, replays, receipt. Header "
                                "X-LGSP-Trace-Source says index or topics (an id the index "
                                "has not seen yet is looked up in the topics).",
                                TraceResponse),
                      400: _E400,
                      404: Body("Unknown transaction id.", ErrorResponse),
                      503: _E503,
                  }, tags=("trace",), extra=_ROLE),
        Operation("GET", "/services", list_services, "Health of each national service", {
            200: Body("Per service: successes and failures in the period, last success "
                      "and failure, request duration min/avg/max.", ServicesResponse),
            503: _E503,
        }, tags=("index",), extra=_ROLE, description=(
            "In the manner of X-Road's health data, from the ledger outcomes in the index. "
            "The period is index.health_period_s (LGSP_INDEX__HEALTH_PERIOD_S).")),
    ]
