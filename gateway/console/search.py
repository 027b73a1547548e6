"""Finding transactions (the index) and one transaction's whole trace."""

from __future__ import annotations

__all__ = ["search_handlers"]

from collections.abc import Awaitable, Callable
from urllib.parse import quote

from aiohttp import web

from gateway.console.guard import LANG, VISITOR, Guard
from gateway.console.render import page, see_other
from gateway.errors import ConfigError, FieldProblem, UnknownTransactionError
from gateway.index.queries import OUTCOMES, encode_cursor, transaction_query
from gateway.replay.filters import check_transaction_id
from gateway.replay.masking import masked
from gateway.trace import TransactionTrace

_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_FIELDS = ("business_key", "service", "outcome", "since", "until")
_PAGE = 50


def search_handlers(guard: Guard) -> dict[str, _Handler]:
    """The search page and the transaction page."""
    sources = guard.sources

    async def search(request: web.Request) -> web.StreamResponse:
        visitor = request[VISITOR]
        q = request.query
        transaction_id = q.get("transaction_id", "").strip()
        if transaction_id:
            return see_other(f"{guard.prefix}/transactions/{quote(transaction_id, safe='')}")
        form = {name: q.get(name, "").strip() for name in _FIELDS}
        searched = any(form.values()) or "submitted" in q
        rows, next_cursor, problem = [], None, None
        if sources.index is not None and searched:
            try:
                query = transaction_query(
                    **{k: v or None for k, v in form.items()}, limit=_PAGE,
                    cursor=q.get("cursor") or None)
            except ConfigError as exc:
                problem = exc.message
            else:
                found = await sources.index.find(query)
                rows = found.rows
                next_cursor = encode_cursor(found.next_after) if found.next_after else None
        return page(request, "search.html", lang=request[LANG], visitor=visitor,
                    csrf=visitor.session.csrf, prefix=guard.prefix, form=form,
                    outcomes=OUTCOMES, has_index=sources.index is not None,
                    searched=searched, rows=rows, next_cursor=next_cursor, problem=problem,
                    status=400 if problem else 200, masked=masked)

    async def transaction(request: web.Request) -> web.StreamResponse:
        visitor = request[VISITOR]
        transaction_id = request.match_info["transaction_id"]
        try:
            check_transaction_id(transaction_id)
        except ValueError as exc:
            raise ConfigError("invalid transaction id",
                              (FieldProblem("id", str(exc)),)) from exc
        try:
            trace = await _trace(transaction_id)
        except UnknownTransactionError:
            return guard.error(request, 404, "tx.not_found", id=transaction_id)
        return page(request, "transaction.html", lang=request[LANG], visitor=visitor,
                    csrf=visitor.session.csrf, prefix=guard.prefix, trace=trace,
                    masked=masked)

    async def _trace(transaction_id: str) -> TransactionTrace:
        if sources.index is not None:
            found, _source = await sources.index.trace(transaction_id)
            return found
        if sources.tracer is None:
            raise UnknownTransactionError(f"no transaction {transaction_id}")
        return await sources.tracer.trace(transaction_id)

    return {"search": search, "transaction": transaction}
