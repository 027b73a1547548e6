"""Dead letters: the filtered list, reasons by error class, replay with a dry-run preview,
a confirmation, live progress and the result; replay history with who did what."""

from __future__ import annotations

__all__ = ["ReasonGroup", "deadletter_handlers", "reasons_of"]

import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import web
from multidict import MultiDictProxy
from pydantic import ValidationError

from gateway.admin.errors import status_for
from gateway.audit.event import Result
from gateway.auth import Role
from gateway.console.guard import LANG, PERMISSION, VISITOR, Guard
from gateway.console.render import page, see_other
from gateway.errors import (
    ConfigError,
    EmptySelectionError,
    FieldProblem,
    GatewayError,
    UnknownTransactionError,
)
from gateway.replay import ReplayService
from gateway.replay.deadletters import DeadLetter
from gateway.replay.masking import masked
from gateway.replay.models import ReplayRequestBody, ReplayRunModel
from gateway.replay.selection import Selection

_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_FILTER_FIELDS = ("from", "to", "connector", "service", "error_class")
_SHOWN = 200
_HISTORY = 50


@dataclass(frozen=True, slots=True)
class ReasonGroup:
    """Dead letters of one error class: how many, and one message as an example."""

    error_class: str
    count: int
    example: str
    services: tuple[str, ...]


def reasons_of(dead: Iterable[DeadLetter]) -> list[ReasonGroup]:
    """Dead letters grouped by error class, the largest group first."""
    groups: dict[str, list[DeadLetter]] = {}
    for d in dead:
        groups.setdefault(d.error_short, []).append(d)
    return sorted(
        (ReasonGroup(name, len(items), masked(items[-1].message),
                     tuple(sorted({d.service for d in items})))
         for name, items in groups.items()),
        key=lambda g: (-g.count, g.error_class))


def _form_filter(values: Mapping[str, str]) -> dict[str, str]:
    return {name: values.get(name, "").strip() for name in _FILTER_FIELDS}


def _body(fields: Mapping[str, str], ids: list[str], *, dry_run: bool) -> ReplayRequestBody:
    """The API's request body of a console form; ConfigError naming bad fields."""
    raw: dict[str, Any] = {"dry_run": dry_run, "transaction_ids": ids}
    if fields.get("from"):
        raw["from"] = fields["from"]
    if fields.get("to"):
        raw["to"] = fields["to"]
    for name, key in (("connector", "connectors"), ("service", "services"),
                      ("error_class", "error_classes")):
        if fields.get(name):
            raw[key] = [fields[name]]
    try:
        return ReplayRequestBody.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError("invalid filter", tuple(
            FieldProblem(".".join(str(p) for p in e["loc"]) or "filter", e["msg"])
            for e in exc.errors())) from None


def _ids(form: MultiDictProxy[Any]) -> list[str]:
    return [v for v in form.getall("tx", []) if isinstance(v, str) and v]


def _service(guard: Guard) -> ReplayService:
    if guard.sources.replay is None:
        raise ConfigError("replay does not run in this gateway")
    return guard.sources.replay


def _origin(request: web.Request) -> str:
    return f"console@{request.remote or 'unknown'}"


def deadletter_handlers(guard: Guard) -> dict[str, _Handler]:
    """The dead-letter pages and the replay actions."""
    return {**_pages(guard), **_actions(guard)}


def _pages(guard: Guard) -> dict[str, _Handler]:
    def service() -> ReplayService:
        return _service(guard)

    async def select(fields: Mapping[str, str], ids: list[str]) -> Selection | None:
        body = _body(fields, ids, dry_run=True)
        flt = body.to_request(origin="console", subject="console").filter
        try:
            return await service().replayer.select(flt)
        except EmptySelectionError:
            return None

    async def dead_letters(request: web.Request) -> web.StreamResponse:
        visitor = request[VISITOR]
        fields = _form_filter(request.query)
        selection = await select(fields, [])
        eligible = list(reversed(selection.eligible)) if selection else []
        return page(request, "deadletters.html", lang=request[LANG], visitor=visitor,
                    csrf=visitor.session.csrf, prefix=guard.prefix, fields=fields,
                    reasons=reasons_of(eligible), rows=eligible[:_SHOWN], total=len(eligible),
                    selection=selection, may_replay=visitor.may(Role.REPLAYER),
                    masked=masked)

    async def history(request: web.Request) -> web.StreamResponse:
        visitor = request[VISITOR]
        records = await service().history(_HISTORY)
        return page(request, "history.html", lang=request[LANG], visitor=visitor,
                    csrf=visitor.session.csrf, prefix=guard.prefix,
                    runs=[ReplayRunModel.of(r) for r in records])

    async def replay_page(request: web.Request) -> web.StreamResponse:
        visitor = request[VISITOR]
        replay_id = request.match_info["replay_id"]
        record = await service().audit(replay_id)
        if record is None:
            return guard.error(request, 404, "replay.not_found", id=replay_id)
        return page(request, "replay.html", lang=request[LANG], visitor=visitor,
                    csrf=visitor.session.csrf, prefix=guard.prefix,
                    run=ReplayRunModel.of(record))

    async def progress(request: web.Request) -> web.StreamResponse:
        record = await service().audit(request.match_info["replay_id"])
        if record is None:
            raise web.HTTPNotFound()
        run = ReplayRunModel.of(record)
        body = {k: getattr(run, k) for k in (
            "status", "selected", "replayed", "delivered", "failed_again", "pending")}
        body["finished"] = run.finished_at is not None
        body["at"] = time.time()
        return web.Response(body=orjson.dumps(body), content_type="application/json",
                            headers={"Cache-Control": "no-store"})

    return {"dead_letters": dead_letters, "history": history, "replay_page": replay_page,
            "progress": progress}


def _actions(guard: Guard) -> dict[str, _Handler]:
    def service() -> ReplayService:
        return _service(guard)

    async def preview(request: web.Request) -> web.StreamResponse:
        visitor = request[VISITOR]
        form = await request.post()
        fields = _form_filter({k: v for k, v in form.items() if isinstance(v, str)})
        ids = _ids(form)
        replay = _body(fields, ids, dry_run=True).to_request(
            origin=_origin(request), subject=visitor.principal.subject)
        permission = request[PERMISSION]
        try:
            run, selection = await service().preview(replay)
        except (EmptySelectionError, UnknownTransactionError) as exc:
            await guard.record(request, permission, target="replay", result=Result.FAILURE,
                               status=status_for(exc), detail=exc.message)
            raise
        await guard.record(request, permission, target=f"replay {run.replay_id}",
                           result=Result.SUCCESS, status=200, detail="dry run")
        return page(request, "preview.html", lang=request[LANG], visitor=visitor,
                    csrf=visitor.session.csrf, prefix=guard.prefix, run=run,
                    candidates=selection.eligible, ids=ids, fields=fields,
                    already_delivered=selection.already_delivered,
                    already_submitted=selection.already_submitted, masked=masked,
                    must_confirm=False)

    async def replay(request: web.Request) -> web.StreamResponse:
        visitor = request[VISITOR]
        form = await request.post()
        fields = _form_filter({k: v for k, v in form.items() if isinstance(v, str)})
        ids = _ids(form)
        if form.get("confirm") != "yes":
            return guard.error(request, 400, "preview.must_confirm")
        replay_request = _body(fields, ids, dry_run=False).to_request(
            origin=_origin(request), subject=visitor.principal.subject)
        permission = request[PERMISSION]
        try:
            run = await service().launch(replay_request)
        except GatewayError as exc:
            await guard.record(request, permission, target="replay", result=Result.FAILURE,
                               status=status_for(exc), detail=exc.message)
            raise
        await guard.record(request, permission, target=f"replay {run.replay_id}",
                           result=Result.SUCCESS, status=200 if run.finished else 202)
        return see_other(f"{guard.prefix}/replays/{run.replay_id}")

    return {"preview": preview, "replay": replay}
