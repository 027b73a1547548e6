"""The overview page: national services, connectors, dead letters, the router's lag."""

from __future__ import annotations

__all__ = ["ConnectorRow", "DeadLetterCounts", "ServiceRow", "health_of", "overview_handlers"]

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import urlencode

from aiohttp import web

from gateway.admin.errors import status_for
from gateway.audit.event import Result
from gateway.auth import Role
from gateway.console.gauges import PipelineGauges, read_gauges
from gateway.console.guard import LANG, PERMISSION, VISITOR, Guard
from gateway.console.render import page, see_other
from gateway.errors import EmptySelectionError, GatewayError
from gateway.index.model import ServiceHealth
from gateway.replay.filters import ReplayFilter

_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_HOUR_MS = 3600 * 1000


@dataclass(frozen=True, slots=True)
class ServiceRow:
    """One national service as the overview shows it."""

    service: str
    health: str
    """ok, degraded, failing, down or idle (the `health.*` messages)."""
    successes: int
    failures: int
    held: int
    held_oldest_s: float
    last_success_ms: int | None
    last_failure_ms: int | None
    duration_avg_ms: float | None


@dataclass(frozen=True, slots=True)
class ConnectorRow:
    """One connector and its state."""

    name: str
    state: str
    trace: str | None


@dataclass(frozen=True, slots=True)
class DeadLetterCounts:
    """Dead letters waiting for a replay, and how many of them came in the last hour."""

    waiting: int
    last_hour: int


def health_of(h: ServiceHealth | None, *, held: int, circuit_open: bool) -> str:
    """The one-word health of a service: down (held / breaker open) beats the ledger."""
    if held > 0 or circuit_open:
        return "down"
    if h is None or (h.successes == 0 and h.failures == 0):
        return "idle"
    if h.failures and (h.last_success_ms or 0) < (h.last_failure_ms or 0):
        return "failing"
    return "degraded" if h.failures else "ok"


def service_rows(health: list[ServiceHealth], gauges: PipelineGauges) -> list[ServiceRow]:
    """Every service the ledger or the router's gauges name, worst first."""
    by_name = {h.service: h for h in health}
    names = sorted(set(by_name) | {s for s, n in gauges.held.items() if n}
                   | {s for s, o in gauges.circuit_open.items() if o})
    order = {"down": 0, "failing": 1, "degraded": 2, "ok": 3, "idle": 4}
    rows = []
    for name in names:
        h = by_name.get(name)
        held = gauges.held.get(name, 0)
        rows.append(ServiceRow(
            service=name,
            health=health_of(h, held=held, circuit_open=gauges.circuit_open.get(name, False)),
            successes=h.successes if h else 0, failures=h.failures if h else 0, held=held,
            held_oldest_s=gauges.held_oldest_s.get(name, 0.0),
            last_success_ms=h.last_success_ms if h else None,
            last_failure_ms=h.last_failure_ms if h else None,
            duration_avg_ms=h.duration_avg_ms if h else None))
    return sorted(rows, key=lambda r: (order[r.health], r.service))


def overview_handlers(guard: Guard) -> dict[str, _Handler]:
    """The overview page and the connector actions, bound to the console's sources."""
    sources = guard.sources

    async def dead_letter_counts() -> DeadLetterCounts | None:
        if sources.replay is None:
            return None
        try:
            selection = await sources.replay.replayer.select(ReplayFilter.create())
        except EmptySelectionError:
            return DeadLetterCounts(0, 0)
        since = int(time.time() * 1000) - _HOUR_MS
        return DeadLetterCounts(
            waiting=len(selection.eligible),
            last_hour=sum(1 for d in selection.eligible if d.timestamp_ms >= since))

    def connector_rows() -> list[ConnectorRow] | None:
        runtime = sources.runtime
        if runtime is None:
            return None
        rows = []
        for name in runtime.list():
            status = runtime.status(name)
            rows.append(ConnectorRow(name, status.connector.state.value,
                                     status.connector.trace))
        return rows

    async def overview(request: web.Request) -> web.StreamResponse:
        visitor = request[VISITOR]
        gauges = read_gauges(router_here=sources.router_here)
        period, health = (await sources.index.services()) if sources.index else (0, [])
        return page(
            request, "overview.html", lang=request[LANG], visitor=visitor,
            csrf=visitor.session.csrf, prefix=guard.prefix,
            has_index=sources.index is not None, period_min=period // 60,
            services=service_rows(health, gauges), gauges=gauges,
            connectors=connector_rows(), dead_letters=await dead_letter_counts(),
            may_operate=visitor.may(Role.OPERATOR), done=request.query.get("done"),
            done_name=request.query.get("name"), now_ms=int(time.time() * 1000))

    async def connector_action(request: web.Request) -> web.StreamResponse:
        runtime = sources.runtime
        name = request.match_info["name"]
        action = request.match_info.route.resource.canonical.rsplit("/", 1)[1] \
            if request.match_info.route.resource else ""
        permission = request[PERMISSION]
        target = guard.target(request, permission)
        if runtime is None:
            return guard.error(request, 409, "overview.connectors_elsewhere")
        try:
            if action == "pause":
                await runtime.pause(name)
            elif action == "resume":
                await runtime.resume(name)
            else:
                await runtime.restart(name)
        except GatewayError as exc:
            await guard.record(request, permission, target=target, result=Result.FAILURE,
                               status=status_for(exc), detail=exc.message)
            raise
        await guard.record(request, permission, target=target, result=Result.SUCCESS,
                           status=200 if action != "restart" else 204)
        return see_other(f"{guard.prefix}/?{urlencode({'done': action, 'name': name})}")

    return {"overview": overview, "connector_action": connector_action}


