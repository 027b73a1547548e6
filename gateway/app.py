"""The gateway process (`lgsp run`): Kafka clients, connectors, services and the admin API.

Start order (stop is the exact reverse, each part awaited):

1. the Avro contracts (`load_gated_schemas`: settings.schemas_dir and every plugin's
   schemas; a breaking change between versions refuses the start),
2. one shared idempotent `Producer` and a `KafkaAdmin`; the system topics are created,
3. the `ConnectorRuntime` (stored connectors start from their positions),
4. the additional services (the router) built by the `services` factory,
5. the admin API server (REST, `/metrics`, `/healthz`, `/readyz`, `/openapi.json`),
6. a Kafka probe that keeps `/readyz` and `lgsp_kafka_ready` honest.

If Kafka cannot be reached at start, `start` raises `KafkaUnavailableError` with one
line naming the bootstrap address; everything started so far is stopped again.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from aiohttp import web

from gateway.admin import AdminServer, RouteSpec, build_admin_app, metrics_app
from gateway.admin.limits import ReadLimiter
from gateway.audit.event import AuditEvent, Result
from gateway.audit.trail import AuditTrail
from gateway.auth import Authenticator, ensure_first_admin
from gateway.connect import ConnectorRuntime, PluginCatalog, discover_plugins
from gateway.console import ConsoleSources, install_console
from gateway.contracts import Codec, load_gated_schemas
from gateway.errors import KafkaError, KafkaUnavailableError
from gateway.index import IndexService
from gateway.kafka import KafkaAdmin, Producer, use_security
from gateway.logs import get_logger
from gateway.metrics import KAFKA_READY
from gateway.ndxp.catalogue import catalogue_from
from gateway.replay import ReplayService
from gateway.router.routing import unlisted_services, with_plugin_routes
from gateway.router.service import RouterService
from gateway.settings import Settings
from gateway.topics import Topics
from gateway.trace.service import TraceService

__all__ = [
    "Gateway",
    "GatewayParts",
    "RouteProvider",
    "Service",
    "ServiceFactory",
    "default_services",
]

_log = get_logger(__name__)


class Service(Protocol):
    """A long-running part of the gateway process (the router is one).

    `start` returns once the service works (its background tasks are owned by it);
    `stop` cancels and awaits everything it started; `ready` feeds `/readyz`.
    """

    async def start(self) -> None:
        """Start working; raise a GatewayError (one line) if that is impossible."""

    async def stop(self) -> None:
        """Stop working and release everything; called once, after a successful start."""

    def ready(self) -> bool:
        """Whether the service currently does its job (e.g. its consumer is assigned)."""


@runtime_checkable
class RouteProvider(Protocol):
    """Optional: a service with `routes()` adds endpoints to the admin API."""

    def routes(self) -> Sequence[RouteSpec]:
        """Operations (documented in OpenAPI) or plain aiohttp RouteDefs to serve."""


@dataclass(frozen=True, slots=True)
class GatewayParts:
    """What services are built from: the process's shared, already started clients."""

    settings: Settings
    topics: Topics
    producer: Producer
    admin: KafkaAdmin
    codec: Codec
    runtime: ConnectorRuntime | None
    """None when this process's roles exclude the connectors."""


ServiceFactory = Callable[[GatewayParts], Sequence[Service]]


def default_services(parts: GatewayParts) -> list[Service]:
    """The services `lgsp run` runs beside the connectors (started in list order).

    Each starts after the connector runtime, stops before it, and its `ready()` is part
    of `/readyz`; one with a `routes()` method adds admin API endpoints.
    """
    services: list[Service] = []
    if "router" in parts.settings.roles:
        services.append(RouterService(parts.settings, producer=parts.producer,
                                      codec=parts.codec, topics=parts.topics))
    # Replay and trace on the admin API; one bound on their topic scans for the whole
    # gateway. The transaction index (GET /transactions[/{id}], GET /services) answers
    # traces when it runs, and replay selects from it; else trace scans the topics.
    reads = ReadLimiter.of(parts.settings)
    index = IndexService(parts.settings, codec=parts.codec, topics=parts.topics) \
        if parts.settings.index.enabled else None
    if index is not None:
        services.append(index)
    services.append(ReplayService(
        parts.settings, producer=parts.producer, codec=parts.codec, topics=parts.topics,
        selector=(lambda flt: index.selector().select(flt)) if index is not None else None,
        reads=reads))
    if index is None:
        services.append(TraceService(parts.settings, codec=parts.codec, topics=parts.topics,
                                     reads=reads))
    return services


class Gateway:
    """The whole gateway process; `run_until_stopped` is what `lgsp run` calls."""

    def __init__(
        self,
        settings: Settings,
        *,
        services: ServiceFactory = default_services,
        extra_routes: Sequence[RouteSpec] = (),
        plugins: PluginCatalog | None = None,
        kafka_probe_interval_s: float = 5.0,
    ) -> None:
        self.settings = settings
        self.topics = Topics(settings.topic_prefix)
        self._service_factory = services
        self._extra_routes = tuple(extra_routes)
        self._plugins = plugins
        self._probe_interval_s = kafka_probe_interval_s
        self._stack: contextlib.AsyncExitStack | None = None
        self._stop_requested = asyncio.Event()
        self._kafka_ok = False
        self._services: list[Service] = []
        self._server: AdminServer | None = None
        self._metrics_server: AdminServer | None = None
        self._runtime: ConnectorRuntime | None = None

    # --- what callers use -------------------------------------------------------------

    @property
    def url(self) -> str:
        """Base URL of the admin API (valid once started)."""
        if self._server is None:
            return f"http://{self.settings.host}:{self.settings.port}"
        return self._server.url

    @property
    def metrics_url(self) -> str | None:
        """Base URL of the separate metrics port, when LGSP_METRICS_PORT is set and started."""
        return self._metrics_server.url if self._metrics_server is not None else None

    @property
    def runtime(self) -> ConnectorRuntime:
        """The connector runtime (valid once started with the connectors role)."""
        if self._runtime is None:
            raise RuntimeError("the gateway has not been started")
        return self._runtime

    def not_ready_reasons(self) -> list[str]:
        """Why `/readyz` says not ready; empty when Kafka is connected and services work."""
        reasons = [] if self._kafka_ok else [
            f"Kafka at {self.settings.bootstrap_servers} is not connected"
        ]
        reasons.extend(f"{type(s).__name__} is not ready" for s in self._services
                       if not s.ready())
        return reasons

    def request_stop(self) -> None:
        """Ask `run_until_stopped` to shut down (what SIGTERM and SIGINT do)."""
        self._stop_requested.set()

    async def run_until_stopped(self, on_ready: Callable[[str], None] | None = None) -> None:
        """Start everything, call `on_ready(url)`, wait for SIGTERM/SIGINT, stop everything.

        A signal during start-up cancels the start, which stops what was started.
        """
        self._stop_requested.clear()
        loop = asyncio.get_running_loop()
        signals = (signal.SIGTERM, signal.SIGINT)
        for sig in signals:
            loop.add_signal_handler(sig, self._on_signal, sig)
        stopping = asyncio.create_task(self._stop_requested.wait(), name="gateway-stop-signal")
        try:
            if not await self._start_unless_stopped(stopping):
                _log.info("gateway start interrupted")
                return
            try:
                if on_ready is not None:
                    on_ready(self.url)
                _log.info("gateway ready", url=self.url)
                await asyncio.wait({stopping})
            finally:
                await self.stop()
        finally:
            await _cancel_and_wait(stopping)
            for sig in signals:
                loop.remove_signal_handler(sig)

    async def start(self) -> None:
        """Start every part in order; on failure stop what was started and re-raise."""
        stack = contextlib.AsyncExitStack()
        try:
            await self._start_parts(stack)
        except BaseException:
            await stack.aclose()
            raise
        self._stack = stack
        KAFKA_READY.set(1)

    async def stop(self) -> None:
        """Stop every part in reverse order, awaiting each."""
        stack, self._stack = self._stack, None
        if stack is not None:
            _log.info("gateway stopping")
            await stack.aclose()
            _log.info("gateway stopped")

    # --- internals --------------------------------------------------------------------

    async def _start_unless_stopped(self, stopping: asyncio.Task[Any]) -> bool:
        """Start; False if a stop request came first (the start is then cancelled)."""
        starting = asyncio.create_task(self.start(), name="gateway-start")
        try:
            await asyncio.wait({starting, stopping}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            if not starting.done():
                starting.cancel()
                # start() unwinds what it started before it ends cancelled.
                await asyncio.wait({starting})
        if starting.cancelled():
            return False
        starting.result()  # re-raises a failed start (KafkaUnavailableError, ...)
        return True

    def _on_signal(self, sig: signal.Signals) -> None:
        _log.info("signal received", signal=sig.name)
        self._stop_requested.set()

    async def _start_parts(self, stack: contextlib.AsyncExitStack) -> None:
        settings = self.settings
        _log.info("gateway starting", bootstrap_servers=settings.bootstrap_servers,
                  topic_prefix=settings.topic_prefix)
        # The Kafka clients made below (and by the services) use the settings' TLS/SASL.
        use_security(settings.kafka)
        authenticator, first_admin = await _prepare_auth(settings)
        registry = await asyncio.to_thread(load_gated_schemas, settings.schemas_dir)
        codec = Codec(registry)
        # Importing plugin modules is blocking work: keep it off the event loop.
        plugins = self._plugins
        if plugins is None:
            plugins = await asyncio.to_thread(discover_plugins)
        settings = self._with_plugin_routes(settings, plugins)

        producer = Producer(settings.bootstrap_servers, client_id="lgsp-gateway")
        await _connect(producer.start(), settings.bootstrap_servers)
        stack.push_async_callback(producer.stop)
        admin = KafkaAdmin(settings.bootstrap_servers, client_id="lgsp-gateway-admin")
        await _connect(admin.start(), settings.bootstrap_servers)
        stack.push_async_callback(admin.stop)
        self._kafka_ok = True
        stack.callback(self._kafka_down)
        await admin.ensure_topics(self.topics.system_specs())
        trail = AuditTrail(settings, producer, codec)
        await trail.start()
        if first_admin is not None:
            await trail.record(AuditEvent(
                subject="gateway", action="token.create", target="token admin",
                client="gateway", result=Result.SUCCESS,
                detail=f"role admin, first start, in {first_admin}"))

        runtime: ConnectorRuntime | None = None
        if "connectors" in settings.roles:
            runtime = ConnectorRuntime(settings, producer=producer, admin=admin, codec=codec,
                                       plugins=plugins)
            await runtime.start()
            stack.push_async_callback(runtime.stop)
            self._runtime = runtime

        parts = GatewayParts(settings, self.topics, producer, admin, codec, runtime)
        routes = list(self._extra_routes)
        for service in self._service_factory(parts):
            await service.start()
            stack.push_async_callback(service.stop)
            self._services.append(service)
            if isinstance(service, RouteProvider):
                routes.extend(service.routes())
        stack.callback(self._services.clear)

        app = build_admin_app(runtime, self.not_ready_reasons, routes,
                              authenticator=authenticator, audit=trail.record)
        await self._add_console(app, settings, authenticator, trail, runtime)
        server = AdminServer(app, settings.host, settings.port)
        await server.start()
        stack.push_async_callback(server.stop)
        self._server = server
        if settings.metrics_port is not None:
            metrics = AdminServer(metrics_app(), settings.host, settings.metrics_port,
                                  label="metrics")
            await metrics.start()
            stack.push_async_callback(metrics.stop)
            self._metrics_server = metrics

        probe = asyncio.create_task(self._probe_kafka(admin), name="gateway-kafka-probe")
        stack.push_async_callback(_cancel_and_wait, probe)

    async def _add_console(self, app: web.Application, settings: Settings,
                           authenticator: Authenticator, trail: AuditTrail,
                           runtime: ConnectorRuntime | None) -> None:
        """The web console (unless disabled), on this process's own services."""
        if not settings.console.enabled:
            return
        found = {type(s): s for s in self._services}
        index, replay, trace = (found.get(IndexService), found.get(ReplayService),
                                found.get(TraceService))
        await install_console(app, ConsoleSources(
            settings=settings, authenticator=authenticator, audit=trail.record,
            runtime=runtime,
            index=index if isinstance(index, IndexService) else None,
            replay=replay if isinstance(replay, ReplayService) else None,
            tracer=trace.tracer if isinstance(trace, TraceService) else None,
            router_here="router" in settings.roles,
            reads=replay.reads if isinstance(replay, ReplayService) else ReadLimiter.of(settings)))

    @staticmethod
    def _with_plugin_routes(settings: Settings, plugins: PluginCatalog) -> Settings:
        """Settings whose routes include the plugins' defaults; warns of unlisted services."""
        router = with_plugin_routes(settings.router, plugins.default_routes())
        if "router" in settings.roles:
            unlisted = unlisted_services(router.routes, catalogue_from(settings.catalogue))
            if unlisted:
                # Every transaction routed there would dead-letter as an unknown service.
                _log.warning(
                    "routes to national services the catalogue does not list",
                    services=unlisted,
                    hint="fix the route, or add the service under [[catalogue.services]] "
                    "(LGSP_CATALOGUE__SERVICES) if NDXP offers it",
                )
        return settings.model_copy(update={"router": router})

    def _kafka_down(self) -> None:
        self._kafka_ok = False
        KAFKA_READY.set(0)

    async def _probe_kafka(self, admin: KafkaAdmin) -> None:
        """Keep readiness true to the broker: a metadata request every interval."""
        while True:
            await asyncio.sleep(self._probe_interval_s)
            try:
                async with asyncio.timeout(self._probe_interval_s):
                    await admin.list_topics()
            except (KafkaError, TimeoutError) as exc:
                if self._kafka_ok:
                    _log.warning("Kafka not reachable", error=str(exc) or "timed out")
                self._kafka_ok = False
                KAFKA_READY.set(0)
            else:
                if not self._kafka_ok:
                    _log.info("Kafka reachable again")
                self._kafka_ok = True
                KAFKA_READY.set(1)


async def _prepare_auth(settings: Settings) -> tuple[Authenticator, Path | None]:
    """The admin API's authenticator, and the first-start admin token's file if made now.

    Refused settings (mode none off loopback, oidc without JWKS) stop the start before
    anything else is touched.
    """
    authenticator = Authenticator.from_settings(settings)
    await authenticator.start()
    first_admin = await asyncio.to_thread(ensure_first_admin, settings)
    if first_admin is not None:
        _log.warning("created the first admin API token; read it from the file (the lgsp "
                     "CLI on this machine does so by itself)", token_file=str(first_admin))
    if authenticator.disabled:
        _log.warning("admin API authentication is OFF (LGSP_AUTH__MODE=none, loopback only)",
                     host=settings.host)
    return authenticator, first_admin


async def _connect(starting: Awaitable[None], bootstrap: str) -> None:
    """Await a client's start; name the address in the one-line error if it fails."""
    try:
        await starting
    except KafkaUnavailableError as exc:
        raise KafkaUnavailableError(f"cannot connect to Kafka at {bootstrap}: {exc}") from exc


async def _cancel_and_wait(task: asyncio.Task[Any]) -> None:
    task.cancel()
    # wait() rather than await: the task's CancelledError is expected and must not be
    # confused with (or swallow) a cancellation of the caller itself.
    await asyncio.wait({task})
    if not task.cancelled() and task.exception() is not None:
        _log.error("background task had failed", task=task.get_name(),
                   exc_info=task.exception())
