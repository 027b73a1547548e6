"""The connector runtime: runs configured connectors as owned asyncio tasks.

Modelled on a Kafka Connect worker, with one task per connector:

- Configs live in the compacted topic `Topics.connector_configs` (key = connector name,
  value = `{"name", "config", "target_state"}`), positions in `Topics.connector_offsets`,
  so a restarted gateway starts every connector that was not paused, from its position.
- Each connector runs as one task: create its topic, `plugin.start()`, then
  `plugin.run()` until cancelled; `plugin.stop()` always follows. An exception marks it
  FAILED with a one-line message (first line of `trace`) and the traceback.
- Pause cancels the task and stops the plugin (a webhook stops listening); resume starts
  a new instance from the last committed position. Deleting a connector keeps its
  position (as Kafka Connect keeps offsets): re-creating the name continues from there.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import re
import traceback
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from gateway.connect.context import RuntimeContext
from gateway.connect.discovery import (
    CONNECTOR_CLASS_KEY,
    SCHEMAS_CONTEXT_KEY,
    PluginCatalog,
    discover_plugins,
    parse_config,
    validation_report,
)
from gateway.connect.plugin import FILES_ROOT_CONTEXT, SourceConnector, looks_secret
from gateway.connect.secrecy import ConfigSecrets, scrub
from gateway.connect.status import (
    ConfigValidation,
    ConnectorInfo,
    ConnectorState,
    ConnectorStateInfo,
    ConnectorStatus,
    PluginInfo,
    TargetState,
    TaskId,
    TaskStatus,
)
from gateway.connect.store import CompactedStore
from gateway.contracts import Codec
from gateway.errors import (
    ConfigError,
    ConnectorError,
    ConnectorExistsError,
    ConnectorNotFoundError,
    FieldProblem,
    GatewayError,
    KafkaError,
    SecretsError,
)
from gateway.kafka import KafkaAdmin, Producer, TopicSpec
from gateway.logs import get_logger, redact_text
from gateway.metrics import CONNECTOR_STATE
from gateway.secrets import box_for, is_sealed
from gateway.settings import Settings, connector_files_root
from gateway.topics import Topics

__all__ = ["CONNECTOR_NAME_PATTERN", "ConnectorRuntime"]

# 1 to 100 of A-Z a-z 0-9 . _ -, but not "." or "..": a name becomes part of topic names,
# URLs and file paths. Written without lookaround so every regex engine (pydantic's,
# JSON Schema validators', the schemathesis generator's) reads it the same way.
CONNECTOR_NAME_PATTERN = (r"^(?:[A-Za-z0-9_-][A-Za-z0-9._-]{0,99}"
                          r"|\.[A-Za-z0-9_-][A-Za-z0-9._-]{0,98}"
                          r"|\.\.[A-Za-z0-9._-]{1,98})$")
_NAME = re.compile(CONNECTOR_NAME_PATTERN)

_log = get_logger(__name__)


@dataclass(slots=True, eq=False)
class _Connector:
    """The runtime's record of one connector; mutated only under `lock`."""

    name: str
    config: dict[str, Any]
    target: TargetState
    position: dict[str, Any] | None
    state: ConnectorState = ConnectorState.UNASSIGNED
    trace: str | None = None
    task: asyncio.Task[None] | None = None
    context: RuntimeContext | None = None
    deleted: bool = False
    secret_values: list[str] = field(default_factory=list)
    """The resolved secrets of the current run, scrubbed from traces and logs."""
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    @property
    def plugin_name(self) -> str:
        return str(self.config.get(CONNECTOR_CLASS_KEY, ""))

    def stored(self, target: TargetState | None = None) -> dict[str, Any]:
        """The value written to the configs topic."""
        return {"name": self.name, "config": self.config,
                "target_state": str(target or self.target)}


class ConnectorRuntime:
    """Creates, runs, pauses, resumes, restarts and deletes connectors.

    Reads (`get`, `status`, `list`, ...) are synchronous and cheap; changes are async
    and return once the change is durable in Kafka and the connector's task has been
    started or stopped accordingly. `plugins=None` discovers installed plugins through
    entry points at `start`; tests and embedders pass a `PluginCatalog` instead.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        producer: Producer,
        admin: KafkaAdmin,
        codec: Codec,
        plugins: PluginCatalog | None = None,
        worker_id: str | None = None,
        topic_partitions: int = 3,
        stop_timeout_s: float = 10.0,
        secrets: ConfigSecrets | None = None,
    ) -> None:
        self._settings = settings
        self._topics = Topics(settings.topic_prefix)
        self._producer = producer
        self._admin = admin
        self._codec = codec
        self._catalog = plugins
        self.worker_id = worker_id or f"{settings.host}:{settings.port}"
        self._partitions = topic_partitions
        self._stop_timeout_s = stop_timeout_s
        self._secrets = secrets or ConfigSecrets(
            box_for(settings.secrets_key, settings.secrets_key_file, settings.state_dir)
        )
        self._configs = CompactedStore(settings.bootstrap_servers, producer,
                                       self._topics.connector_configs)
        self._positions = CompactedStore(settings.bootstrap_servers, producer,
                                         self._topics.connector_offsets)
        self._known_positions: dict[str, dict[str, Any]] = {}
        self._connectors: dict[str, _Connector] = {}
        self._registry_lock = asyncio.Lock()
        self._closing = False

    # --- lifecycle --------------------------------------------------------------------

    async def start(self) -> None:
        """Discover plugins, load stored configs and positions, start unpaused connectors."""
        if self._catalog is None:
            # Importing plugin modules is blocking work: keep it off the event loop.
            self._catalog = await asyncio.to_thread(discover_plugins)
        for name, reason in sorted(self._catalog.broken.items()):
            _log.error("connector plugin unusable", plugin=name, reason=reason)
        _log.info("connector plugins", plugins=self._catalog.names())
        await self._admin.ensure_topics(
            [TopicSpec.compacted(t) for t in self._topics.compacted]
        )
        self._known_positions = await self._positions.load()
        stored = await self._configs.snapshot()
        for name, value in sorted(stored.values.items()):
            self._restore(name, await self._sealed_at_rest(name, value))
        for name, reason in sorted(stored.unreadable.items()):
            self._restore_unreadable(name, reason)

    async def stop(self) -> None:
        """Stop every connector: cancel and await its task, stop its plugin."""
        self._closing = True
        await asyncio.gather(*(self._halt(c) for c in self._connectors.values()))

    # --- changes ----------------------------------------------------------------------

    async def create(self, name: str, config: Mapping[str, Any]) -> ConnectorInfo:
        """Register a connector, store its config and start it.

        Raises ConfigError (bad name or config, naming each field), UnknownPluginError,
        ConnectorExistsError.
        """
        _check_name(name)
        if name in self._connectors:
            raise ConnectorExistsError(f"connector {name!r} already exists")
        cleaned = self._checked(name, config, None)
        async with self._registry_lock:
            if name in self._connectors:
                raise ConnectorExistsError(f"connector {name!r} already exists")
            conn = _Connector(name, cleaned, TargetState.RUNNING,
                              self._known_positions.get(name))
            await self._configs.put(name, conn.stored())
            self._connectors[name] = conn
            # No await between registering and launching: no other change can slip in.
            self._launch(conn)
        _log.info("connector created", connector=name, plugin=conn.plugin_name)
        return self._info(conn)

    async def update_config(self, name: str, config: Mapping[str, Any]) -> ConnectorInfo:
        """Replace a connector's config; a running (or failed) connector restarts with it."""
        conn = self._find(name)
        cleaned = self._checked(name, config, conn.config)
        catalog = self._plugins()
        # A connector whose stored config was unreadable has no plugin yet: any goes.
        if conn.plugin_name and catalog.resolve(str(cleaned[CONNECTOR_CLASS_KEY])) != (
                _safe_resolve(catalog, conn.plugin_name)):
            raise ConfigError(
                f"invalid config for connector {name!r}",
                (FieldProblem(CONNECTOR_CLASS_KEY,
                              f"cannot change the plugin of an existing connector (is "
                              f"{conn.plugin_name!r}); delete and re-create it"),),
            )
        async with conn.lock:
            self._alive(conn)
            await self._configs.put(name, {**conn.stored(), "config": cleaned})
            conn.config = cleaned
            if conn.target is TargetState.RUNNING:
                await self._halt(conn)
                self._launch(conn)
        _log.info("connector reconfigured", connector=name)
        return self._info(conn)

    async def pause(self, name: str) -> None:
        """Stop the connector's work and remember it is paused (across restarts too)."""
        conn = self._find(name)
        async with conn.lock:
            self._alive(conn)
            if conn.target is not TargetState.PAUSED:
                await self._configs.put(name, conn.stored(TargetState.PAUSED))
                conn.target = TargetState.PAUSED
            await self._halt(conn)
            self._set_state(conn, ConnectorState.PAUSED)
        _log.info("connector paused", connector=name)

    async def resume(self, name: str) -> None:
        """Start a paused connector again from its committed position.

        A FAILED connector stays failed (as in Kafka Connect): restart it instead.
        """
        conn = self._find(name)
        async with conn.lock:
            self._alive(conn)
            if conn.target is not TargetState.RUNNING:
                await self._configs.put(name, conn.stored(TargetState.RUNNING))
                conn.target = TargetState.RUNNING
            if conn.state is ConnectorState.PAUSED:
                self._launch(conn)
        _log.info("connector resumed", connector=name)

    async def restart(self, name: str, *, only_failed: bool = False) -> bool:
        """Stop and start the connector again; a paused one stays paused.

        Returns whether it was restarted (`only_failed` skips one that is not FAILED).
        """
        conn = self._find(name)
        async with conn.lock:
            self._alive(conn)
            if conn.target is TargetState.PAUSED:
                return False
            if only_failed and conn.state is not ConnectorState.FAILED:
                return False
            await self._halt(conn)
            self._launch(conn)
        _log.info("connector restarted", connector=name)
        return True

    async def delete(self, name: str) -> None:
        """Stop the connector and forget its config; its source position is kept."""
        conn = self._find(name)
        async with conn.lock:
            self._alive(conn)
            # Tombstone first: if Kafka refuses it, the connector keeps running as before.
            await self._configs.delete(name)
            await self._halt(conn)
            conn.deleted = True
            self._connectors.pop(name, None)
            if conn.position is not None:
                self._known_positions[name] = conn.position
            for state in ConnectorState:
                # A state the gauge never saw has no child to remove; that is fine.
                with contextlib.suppress(KeyError):
                    CONNECTOR_STATE.remove(name, state.value)
        _log.info("connector deleted", connector=name)

    # --- reads ------------------------------------------------------------------------

    def get(self, name: str) -> ConnectorInfo:
        """Name, config and tasks of a connector."""
        return self._info(self._find(name))

    def config(self, name: str) -> dict[str, Any]:
        """The connector's config as submitted, every secret key `[hidden]`."""
        conn = self._find(name)
        return ConfigSecrets.shown(conn.config, self._secret_keys_of(conn.config))

    def status(self, name: str) -> ConnectorStatus:
        """Kafka Connect's status document for a connector."""
        conn = self._find(name)
        summary = conn.trace.splitlines()[0] if conn.trace else None
        return ConnectorStatus(
            name=conn.name,
            connector=ConnectorStateInfo(conn.state, self.worker_id, summary),
            tasks=(TaskStatus(0, conn.state, self.worker_id, conn.trace),),
        )

    def plugins(self) -> builtins.list[PluginInfo]:
        """Every usable plugin."""
        return self._plugins().infos()

    def validate(self, plugin: str, config: Mapping[str, Any]) -> ConfigValidation:
        """Validate a config for a plugin (Kafka Connect's validate result).

        Raises UnknownPluginError if the plugin is not installed or unusable.
        """
        catalog = self._plugins()
        canonical = catalog.resolve(plugin)
        values = {k: v for k, v in config.items() if k != "name"}
        name = str(config.get("name", "(validate)"))
        extra: dict[str, str] = {
            k: "a sealed value cannot be submitted" for k, v in values.items() if is_sealed(v)
        }
        values, unresolved = self._secrets.resolved_with_errors(
            name, {k: v for k, v in values.items() if k not in extra}
        )
        extra.update(unresolved)
        given = values.setdefault(CONNECTOR_CLASS_KEY, canonical)
        if _safe_resolve(catalog, str(given)) != canonical:
            extra[CONNECTOR_CLASS_KEY] = f"does not match the plugin being validated ({plugin})"
        return validation_report(canonical, catalog.get(canonical), values, extra,
                                 context=self._validation_context())

    def states(self) -> dict[str, ConnectorState]:
        """Current state of every connector (for health and dashboards)."""
        return {name: c.state for name, c in sorted(self._connectors.items())}

    def list(self) -> builtins.list[str]:
        """Names of every connector, sorted."""
        return sorted(self._connectors)

    # --- internals --------------------------------------------------------------------

    def _plugins(self) -> PluginCatalog:
        if self._catalog is None:
            raise ConnectorError("the connector runtime has not been started")
        return self._catalog

    def _find(self, name: str) -> _Connector:
        conn = self._connectors.get(name)
        if conn is None:
            raise ConnectorNotFoundError(f"connector {name!r} not found")
        return conn

    @staticmethod
    def _alive(conn: _Connector) -> None:
        # A change that waited for the lock while the connector was being deleted.
        if conn.deleted:
            raise ConnectorNotFoundError(f"connector {conn.name!r} not found")

    def _checked(self, name: str, config: Mapping[str, Any],
                 previous: Mapping[str, Any] | None) -> dict[str, Any]:
        """The stored form of a submitted config, checked against its plugin's model.

        `[hidden]` secrets take the `previous` (stored) value, references are resolved
        only to check the config (the references themselves are stored), and literal
        secrets come back sealed.
        """
        values = dict(config)
        inner_name = values.pop("name", name)
        if inner_name != name:
            raise ConfigError(f"invalid config for connector {name!r}", (FieldProblem(
                "name", f"{inner_name!r} differs from the connector name {name!r}"),))
        plugin_name = values.get(CONNECTOR_CLASS_KEY)
        if not isinstance(plugin_name, str) or not plugin_name:
            installed = ", ".join(self._plugins().names()) or "none installed"
            raise ConfigError(f"invalid config for connector {name!r}", (FieldProblem(
                CONNECTOR_CLASS_KEY, f"required: the plugin name ({installed})"),))
        plugin = self._plugins().get(plugin_name)
        secret_keys = plugin.config_model.secret_keys()
        self._secrets.refuse_sealed(name, values)
        merged = self._secrets.kept(name, values, previous, secret_keys)
        parsed = parse_config(name, plugin, self._secrets.resolved_or_problems(name, merged),
                              context=self._validation_context())
        self._check_topic(name, parsed.topic)
        try:
            return self._secrets.sealed(name, merged, secret_keys)
        except SecretsError as exc:
            raise ConfigError(f"connector {name!r}: cannot store its secrets: {exc}") from exc

    def _check_topic(self, name: str, topic: str | None) -> None:
        """Refuse a topic that is the gateway's own or another connector's."""
        effective = topic or self._topics.source(name)
        reason: str | None = None
        if self._topics.is_reserved(effective):
            reason = (f"{effective!r} is one of the gateway's own topics; connectors publish "
                      f"to their own topic ({self._topics.source(name)} by default)")
        else:
            for other in self._connectors.values():
                if other.name == name:
                    continue
                taken = other.config.get("topic") or self._topics.source(other.name)
                if taken == effective:
                    reason = f"{effective!r} is already the topic of connector {other.name!r}"
                    break
        if reason is not None:
            raise ConfigError(f"invalid config for connector {name!r}",
                              (FieldProblem("topic", reason),))

    def _secret_keys_of(self, config: Mapping[str, Any]) -> frozenset[str]:
        """The secret keys of a stored config, even if its plugin is gone or broken."""
        try:
            plugin = self._plugins().get(str(config.get(CONNECTOR_CLASS_KEY, "")))
            declared = plugin.config_model.secret_keys()
        except GatewayError:
            declared = frozenset()
        return declared | {k for k, v in config.items() if is_sealed(v) or looks_secret(k)}

    async def _sealed_at_rest(self, name: str, value: dict[str, Any]) -> dict[str, Any]:
        """A stored value whose literal secrets are sealed (rewritten if they were not).

        Configs stored by an older gateway hold secrets in clear; sealing them at the first
        start means the configs topic keeps the clear value only until compaction.
        """
        config = value.get("config")
        if not isinstance(config, dict):
            return value
        try:
            sealed = self._secrets.sealed(name, config, self._secret_keys_of(config))
            if sealed == config:
                return value
            rewritten = {**value, "config": sealed}
            await self._configs.put(name, rewritten)
        except (SecretsError, KafkaError) as exc:
            _log.warning("connector secrets left unsealed", connector=name, error=exc.message)
            return value
        _log.info("connector secrets sealed at rest", connector=name)
        return rewritten

    def _validation_context(self) -> dict[str, Any]:
        """What the gateway's settings impose on every connector config."""
        return {FILES_ROOT_CONTEXT: connector_files_root(self._settings),
                SCHEMAS_CONTEXT_KEY: self._codec.registry}

    def _restore(self, name: str, value: Mapping[str, Any]) -> None:
        """Register a connector loaded from the configs topic and start it unless paused."""
        config = value.get("config")
        paused = value.get("target_state") == TargetState.PAUSED.value
        conn = _Connector(name, dict(config) if isinstance(config, dict) else {},
                          TargetState.PAUSED if paused else TargetState.RUNNING,
                          self._known_positions.get(name))
        self._connectors[name] = conn
        if not isinstance(config, dict):
            self._fail(conn, ConnectorError(f"stored config of connector {name!r} is unreadable"))
        elif paused:
            self._set_state(conn, ConnectorState.PAUSED)
        else:
            self._launch(conn)
        _log.info("connector restored", connector=name, target_state=conn.target.value)

    def _restore_unreadable(self, name: str, reason: str) -> None:
        """A connector whose stored config cannot be read: FAILED, with where and why.

        Deleting it, or storing a new config with PUT, replaces the bad record.
        """
        if not _NAME.match(name):
            _log.warning("stored config with an invalid connector name skipped",
                         name=name[:200], reason=reason)
            return
        conn = _Connector(name, {}, TargetState.RUNNING, self._known_positions.get(name))
        self._connectors[name] = conn
        self._fail(conn, ConnectorError(f"connector {name!r}: {reason}"))

    def _launch(self, conn: _Connector) -> None:
        """Start the connector's task (the caller holds its lock or just created it)."""
        if self._closing:
            raise ConnectorError("the connector runtime is shutting down")
        conn.trace = None
        self._set_state(conn, ConnectorState.UNASSIGNED)
        conn.task = asyncio.create_task(self._work(conn), name=f"connector:{conn.name}")

    async def _work(self, conn: _Connector) -> None:
        """One run of a connector: start, run until cancelled, always stop."""
        instance: SourceConnector[Any] | None = None
        context: RuntimeContext | None = None
        try:
            plugin = self._plugins().get(conn.plugin_name)
            resolved = self._secrets.resolved(conn.name, conn.config)
            conn.secret_values = ConfigSecrets.values(resolved, self._secret_keys_of(conn.config))
            parsed = parse_config(conn.name, plugin, resolved,
                                  context=self._validation_context())
            topic = parsed.topic or self._topics.source(conn.name)
            await self._admin.ensure_topics([TopicSpec(topic, self._partitions)])
            context = RuntimeContext(
                name=conn.name, source_system=plugin.source_system, config=parsed,
                topic=topic, producer=self._producer, codec=self._codec,
                positions=self._positions, position=conn.position,
            )
            conn.context = context
            instance = plugin(parsed, context)
            await instance.start()
            self._set_state(conn, ConnectorState.RUNNING)
            _log.info("connector running", connector=conn.name, topic=topic)
            await instance.run()
            raise ConnectorError(
                f"connector {conn.name!r}: run() returned; a connector must run until stopped"
            )
        except Exception as exc:  # noqa: BLE001 - any plugin failure marks it FAILED, logged
            self._fail(conn, exc)
        finally:
            if context is not None and context.position is not None:
                conn.position = dict(context.position)
            if instance is not None:
                await self._stop_plugin(conn, instance)

    async def _stop_plugin(self, conn: _Connector, instance: SourceConnector[Any]) -> None:
        try:
            async with asyncio.timeout(self._stop_timeout_s):
                await instance.stop()
            _log.info("connector stopped", connector=conn.name)
        except TimeoutError:
            _log.error("connector stop timed out", connector=conn.name,
                       timeout_s=self._stop_timeout_s)
        except Exception:  # noqa: BLE001 - a failing stop() must not keep others running
            _log.exception("connector stop failed", connector=conn.name)

    async def _halt(self, conn: _Connector) -> None:
        """Cancel the connector's task and wait until its plugin has stopped."""
        task, conn.task = conn.task, None
        if task is None:
            return
        task.cancel()
        # stop() has its own timeout inside the task; this one catches a run() that
        # swallows cancellation, which would otherwise hang pause and shutdown.
        done, _ = await asyncio.wait({task}, timeout=2 * self._stop_timeout_s + 1)
        if not done:
            _log.error("connector task ignored cancellation", connector=conn.name)

    def _fail(self, conn: _Connector, exc: BaseException) -> None:
        message = exc.message if isinstance(exc, GatewayError) else (
            " ".join(f"{type(exc).__name__}: {exc}".split())
        )
        details = "".join(traceback.format_exception(exc)) if exc.__traceback__ else ""
        # A plugin's exception may quote its own secret (a URL with a token, a bad
        # header): the status trace (GET /connectors/{name}/status) and the log get the
        # text with every secret hidden, then redacted like a log line.
        message = scrub(message, conn.secret_values)
        details = scrub(details, conn.secret_values)
        conn.trace = redact_text(f"{message}\n{details}".rstrip())
        self._set_state(conn, ConnectorState.FAILED)
        _log.error("connector failed", connector=conn.name, error=message,
                   **({"exception": details.rstrip()} if details else {}))

    def _set_state(self, conn: _Connector, state: ConnectorState) -> None:
        conn.state = state
        for each in ConnectorState:
            CONNECTOR_STATE.labels(connector=conn.name, state=each.value).set(
                1 if each is state else 0
            )

    def _info(self, conn: _Connector) -> ConnectorInfo:
        shown = ConfigSecrets.shown(conn.config, self._secret_keys_of(conn.config))
        return ConnectorInfo(conn.name, shown, (TaskId(conn.name, 0),))


def _check_name(name: str) -> None:
    if not _NAME.fullmatch(name):
        raise ConfigError("invalid connector name", (FieldProblem(
            "name", f"{name[:100]!r} must be 1 to 100 characters of "
                    "A-Z a-z 0-9 . _ - and not . or .."),))


def _safe_resolve(catalog: PluginCatalog, name: str) -> str | None:
    try:
        return catalog.resolve(name)
    except GatewayError:
        return None
