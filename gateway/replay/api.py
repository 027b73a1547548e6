"""The admin API operations of replay, documented in OpenAPI.

`POST /replays` (dry run or real run), `GET /replays` (history) and `GET /replays/{id}`
(one run, live while it runs). Errors are the admin API's `{"error_code", "message"}`:
400 malformed filter, 404 unknown transaction or replay, 409 a replay already running,
422 nothing matches the filter.
"""

from __future__ import annotations

__all__ = ["replay_operations"]

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from aiohttp import web

from gateway.admin import Body, Operation, QueryParameter, json_response, read_body
from gateway.admin.models import ErrorResponse
from gateway.admin.security import PRINCIPAL
from gateway.errors import (
    ConfigError,
    FieldProblem,
)
from gateway.replay.masking import masked
from gateway.replay.models import (
    CandidateModel,
    ReplayPreviewResponse,
    ReplayRequestBody,
    ReplayRunModel,
)

if TYPE_CHECKING:
    from gateway.replay.service import ReplayService

_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_TAGS = ("replay",)
_E400 = Body("Malformed filter or body; the message names each bad field.", ErrorResponse)
_E404 = Body("Unknown transaction id or replay id.", ErrorResponse)
_E429 = Body("Too many traces and history reads at once; come back after Retry-After "
             "seconds.", ErrorResponse)
_DEFAULT_LIMIT = 20


def _not_found(message: str) -> web.Response:
    return json_response(ErrorResponse(error_code=404, message=message), 404)


def replay_operations(service: ReplayService) -> list[Operation]:
    """The operations, bound to a running `ReplayService`."""
    bounded = service.reads.limited

    async def post_replay(request: web.Request) -> web.Response:
        body = await read_body(request, ReplayRequestBody)
        principal = request.get(PRINCIPAL)
        replay = body.to_request(origin=f"api@{request.remote or 'unknown'}",
                                 subject=principal.subject if principal else "anonymous")
        if replay.dry_run:
            run, selection = await service.preview(replay)
            return json_response(ReplayPreviewResponse(
                replay=ReplayRunModel.of(run.audit_record()),
                candidates=[CandidateModel.of(d, masked(d.message)) for d in selection.eligible],
                already_delivered=sorted(selection.already_delivered),
                already_submitted=dict(sorted(selection.already_submitted.items()))))
        run = await service.launch(replay)
        status = 200 if run.finished else 202
        response = json_response(ReplayRunModel.of(run.audit_record()), status)
        response.headers["Location"] = f"/replays/{run.replay_id}"
        return response

    async def list_replays(request: web.Request) -> web.Response:
        raw = request.query.get("limit", str(_DEFAULT_LIMIT))
        if not raw.isdigit() or not 1 <= int(raw) <= 1000:
            raise ConfigError("invalid query", (FieldProblem(
                "limit", f"{raw!r} is not a whole number from 1 to 1000"),))
        records = await service.history(int(raw))
        return json_response([ReplayRunModel.of(r).model_dump(mode="json") for r in records])

    async def get_replay(request: web.Request) -> web.Response:
        replay_id = request.match_info["replay_id"]
        record = await service.audit(replay_id)
        if record is None:
            return _not_found(f"no replay {replay_id} in the audit trail")
        return json_response(ReplayRunModel.of(record))

    return [
        Operation("POST", "/replays", post_replay, "Replay dead-lettered transactions", {
            200: Body("Dry run: what would be replayed (nothing sent, audited as DRY_RUN); "
                      "or a real run with nothing left to send.", ReplayPreviewResponse
                      | ReplayRunModel),
            202: Body("Real run started in the background; follow Location.", ReplayRunModel),
            400: _E400,
            404: Body("A transaction id in the filter has no dead-letter record.",
                      ErrorResponse),
            409: Body("A replay is already running in this gateway.", ErrorResponse),
            422: Body("No dead-lettered transaction matches the filter.", ErrorResponse),
        }, request=ReplayRequestBody, tags=_TAGS, description=(
            "Selects each dead-lettered transaction's latest failure that matches the "
            "filter; skips those already delivered (ledger) and those whose latest failure "
            "was already re-submitted, so repeating a replay sends nothing twice. A real "
            "run re-submits the original records, keeping their transaction ids, to the "
            "replay topic at `rate` per second; the router reconciles each with the "
            "national side before sending. Every run, dry or real, is audited.")),
        Operation("GET", "/replays", bounded(list_replays), "Replay history (audit trail)", {
            200: Body("Runs, newest first.", list[ReplayRunModel]),
            400: _E400,
            429: _E429,
        }, query=(QueryParameter("limit", "How many runs (1-1000, default 20).", "integer",
                                 schema={"minimum": 1, "maximum": 1000}),),
            tags=_TAGS),
        Operation("GET", "/replays/{replay_id}", bounded(get_replay), "One replay run", {
            200: Body("The run; live counts while this gateway runs it.", ReplayRunModel),
            404: _E404,
            429: _E429,
        }, tags=_TAGS),
    ]
