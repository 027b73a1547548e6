"""Finding connector plugins: entry points of the `lgsp.connectors` group, checked once.

An integrator's package registers its plugin class under the group:

    [project.entry-points."lgsp.connectors"]
    example = "lgsp_example_connector:ExampleConnector"

The entry-point name is the plugin's name (what `connector.class` refers to). A plugin
that cannot be imported or does not honour the contract does not stop the gateway: it
is kept aside as broken with a one-line reason naming it, logged at start-up, and any
attempt to use it fails with that reason.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from types import UnionType
from typing import Annotated, Any, Union, get_args, get_origin

import orjson
from pydantic import BaseModel, SecretStr, ValidationError
from pydantic_core import ErrorDetails

from gateway.connect.plugin import (
    ENTRY_POINT_GROUP,
    ConnectorConfig,
    SourceConnector,
    looks_secret,
)
from gateway.connect.secrecy import HIDDEN
from gateway.connect.status import (
    ConfigKeyDefinition,
    ConfigKeyReport,
    ConfigKeyValue,
    ConfigValidation,
    PluginInfo,
)
from gateway.errors import ConfigError, ConnectorError, FieldProblem, UnknownPluginError
from gateway.settings import RouteRule

PluginClass = type[SourceConnector[Any]]


@dataclass(frozen=True, slots=True)
class _Loaded:
    cls: PluginClass
    version: str


@dataclass(frozen=True, slots=True)
class PluginCatalog:
    """The connector plugins a runtime can use, by name, plus the broken ones and why."""

    _plugins: Mapping[str, _Loaded] = field(default_factory=dict)
    broken: Mapping[str, str] = field(default_factory=dict)
    """Plugin name -> one-line reason it cannot be used (starting with its entry point)."""

    @classmethod
    def of(cls, *plugins: PluginClass, version: str = "unknown") -> PluginCatalog:
        """A catalog of the given classes under their `plugin_name` (tests, embedding)."""
        loaded: dict[str, _Loaded] = {}
        for plugin in plugins:
            name = getattr(plugin, "plugin_name", None)
            if not isinstance(name, str) or not name:
                raise ConnectorError(f"connector plugin {plugin!r} has no plugin_name")
            loaded[name] = _Loaded(check_plugin(name, plugin), version)
        return cls(loaded)

    def names(self) -> list[str]:
        """Names of the usable plugins, sorted."""
        return sorted(self._plugins)

    def get(self, name: str) -> PluginClass:
        """The plugin class for a name or a fully qualified class path (Kafka Connect habit).

        Raises UnknownPluginError naming the plugin: either it is not installed (the
        message lists what is) or it is installed but broken (the message says why).
        """
        return self._plugins[self.resolve(name)].cls

    def resolve(self, name: str) -> str:
        """The canonical plugin name for a plugin name or class path."""
        if name in self._plugins:
            return name
        for plugin_name, loaded in self._plugins.items():
            if name == _class_path(loaded.cls):
                return plugin_name
        if name in self.broken:
            raise UnknownPluginError(
                f"connector plugin {name!r} is installed but unusable: {self.broken[name]}"
            )
        known = ", ".join(self.names()) or "none"
        raise UnknownPluginError(f"unknown connector plugin {name!r}; installed: {known}")

    def default_routes(self) -> list[RouteRule]:
        """The routes the usable plugins declare, by plugin name; the first name wins a type.

        They lie beneath the built-in routes and the settings' routes (`merge_routes`).
        """
        rules: dict[str, RouteRule] = {}
        for _name, loaded in sorted(self._plugins.items()):
            for message_type, service in loaded.cls.default_routes.items():
                rules.setdefault(message_type,
                                 RouteRule(message_type=message_type, service=service))
        return list(rules.values())

    def infos(self) -> list[PluginInfo]:
        """Every usable plugin, sorted by name."""
        return [
            PluginInfo(
                name=name,
                class_path=_class_path(loaded.cls),
                version=loaded.version,
                source_system=loaded.cls.source_system,
                description=loaded.cls.description,
            )
            for name, loaded in sorted(self._plugins.items())
        ]


def discover_plugins(
    group: str = ENTRY_POINT_GROUP, *, found: Iterable[EntryPoint] | None = None
) -> PluginCatalog:
    """Load every plugin registered under the entry-point group.

    `found` replaces the installed entry points (tests pass hand-made ones). Loading
    imports the plugins' modules, so call this off the event loop
    (`await asyncio.to_thread(discover_plugins)`).
    """
    candidates = list(entry_points(group=group) if found is None else found)
    plugins: dict[str, _Loaded] = {}
    broken: dict[str, str] = {}
    owners: dict[str, str] = {}
    for ep in candidates:
        owner = _owner(ep)
        if ep.name in owners:
            # Two packages claiming one name: picking either would be a silent surprise.
            broken[ep.name] = (
                f"registered twice, by {owners[ep.name]} and by {owner}; uninstall one"
            )
            plugins.pop(ep.name, None)
            continue
        owners[ep.name] = owner
        try:
            obj = ep.load()
        # Any import-time failure (syntax, missing dependency, ...) makes the plugin broken.
        except Exception as exc:  # noqa: BLE001 - kept as the plugin's reason, shown on use
            broken[ep.name] = f"{ep.value} cannot be imported: {type(exc).__name__}: {exc}"
            continue
        problem = contract_problem(obj)
        if problem is not None:
            broken[ep.name] = f"{ep.value}: {problem}"
            continue
        plugins[ep.name] = _Loaded(obj, ep.dist.version if ep.dist else "unknown")
    return PluginCatalog(plugins, broken)


def check_plugin(name: str, obj: object) -> PluginClass:
    """`obj` as a plugin class; ConnectorError naming the plugin if it breaks the contract."""
    problem = contract_problem(obj)
    if problem is not None or not (inspect.isclass(obj) and issubclass(obj, SourceConnector)):
        raise ConnectorError(f"connector plugin {name!r}: {problem}")
    return obj


def contract_problem(obj: object) -> str | None:
    """How `obj` fails the plugin contract (one line), or None if it honours it."""
    if not (inspect.isclass(obj) and issubclass(obj, SourceConnector)):
        return f"{obj!r} is not a SourceConnector subclass"
    if inspect.isabstract(obj):
        missing = ", ".join(sorted(getattr(obj, "__abstractmethods__", ()))) or "?"
        return f"{obj.__name__} does not implement {missing}"
    model = getattr(obj, "config_model", None)
    if not (inspect.isclass(model) and issubclass(model, ConnectorConfig)):
        return f"{obj.__name__}.config_model must be a ConnectorConfig subclass"
    source_system = getattr(obj, "source_system", None)
    if not isinstance(source_system, str) or not source_system:
        return f"{obj.__name__}.source_system must be a non-empty string"
    routes = getattr(obj, "default_routes", {})
    if not (isinstance(routes, Mapping)
            and all(isinstance(k, str) and k and isinstance(v, str) and v
                    for k, v in routes.items())):
        return f"{obj.__name__}.default_routes must map message types to service codes"
    return None


def _owner(ep: EntryPoint) -> str:
    return f"{ep.dist.name} ({ep.value})" if ep.dist is not None else ep.value


def _class_path(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


# --- configs against a plugin's model -------------------------------------------------
# Kept beside the catalog: the catalog is what maps `connector.class` to a plugin, and the
# plugin's `config_model` is what says which keys and values it accepts.

CONNECTOR_CLASS_KEY = "connector.class"
SCHEMAS_CONTEXT_KEY = "schemas"
"""Config models find the gateway's SchemaRegistry under this key of pydantic's validation
context (`info.context`), to check a value against the contracts (a message type, a field
mapping); it is absent when a model is validated on its own."""
_COMMON_GROUP = "Common"


def parse_config(
    name: str, plugin: PluginClass, config: Mapping[str, Any],
    *, context: Mapping[str, Any] | None = None,
) -> ConnectorConfig:
    """The plugin's config model for a flat config; ConfigError names every bad key.

    `context` is pydantic's validation context: what the gateway's own settings impose on
    every config (e.g. `FILES_ROOT_CONTEXT`).
    """
    try:
        return plugin.config_model.model_validate(dict(config), context=context)
    except ValidationError as exc:
        aliases = _aliases(plugin.config_model)
        problems = tuple(
            FieldProblem(_key_of(err["loc"], aliases), _reason(err)) for err in exc.errors()
        )
        raise ConfigError(f"invalid config for connector {name!r}", problems) from exc


def validation_report(
    plugin_name: str,
    plugin: PluginClass,
    config: Mapping[str, Any],
    extra_errors: Mapping[str, str] | None = None,
    *, context: Mapping[str, Any] | None = None,
) -> ConfigValidation:
    """Kafka Connect's validate result: every key's definition, value and errors.

    `extra_errors` adds problems the model cannot see (key -> reason).
    """
    model = plugin.config_model
    aliases = _aliases(model)
    errors: dict[str, list[str]] = {k: [v] for k, v in (extra_errors or {}).items()}
    try:
        model.model_validate(dict(config), context=context)
    except ValidationError as exc:
        for err in exc.errors():
            errors.setdefault(_key_of(err["loc"], aliases), []).append(_reason(err))
    given = {aliases.get(k, k): v for k, v in config.items()}
    secret_keys = model.secret_keys()
    reports: list[ConfigKeyReport] = []
    order: dict[str, int] = {}
    for field_name, info in model.model_fields.items():
        key = info.alias or field_name
        group = _COMMON_GROUP if field_name in ConnectorConfig.model_fields else plugin_name
        order[group] = order.get(group, 0) + 1
        kind = "PASSWORD" if key in secret_keys else _kafka_type(info.annotation)
        definition = ConfigKeyDefinition(
            name=key,
            type=kind,
            required=info.is_required(),
            default_value=None if info.is_required() else _as_text(
                info.get_default(call_default_factory=True)
            ),
            importance="HIGH" if info.is_required() else "MEDIUM",
            documentation=info.description or "",
            group=group,
            order=order[group],
            display_name=info.title or key,
        )
        raw = given.get(key)
        shown = HIDDEN if key in secret_keys and raw is not None else _as_text(raw)
        reports.append(ConfigKeyReport(
            definition, ConfigKeyValue(key, shown, tuple(errors.pop(key, ())))
        ))
    # Keys the model does not know (or errors not tied to a key) still get an entry, so
    # every error is counted and shown next to what caused it.
    for key, messages in errors.items():
        definition = ConfigKeyDefinition(
            name=key, type="STRING", required=False, default_value=None, importance="LOW",
            documentation="not a config key of this plugin", group=plugin_name, order=0,
            display_name=key,
        )
        raw = given.get(key)
        shown = HIDDEN if looks_secret(key) and raw is not None else _as_text(raw)
        reports.append(ConfigKeyReport(
            definition, ConfigKeyValue(key, shown, tuple(messages))
        ))
    groups = (_COMMON_GROUP, plugin_name)
    return ConfigValidation(
        name=plugin_name,
        error_count=sum(len(r.value.errors) for r in reports),
        groups=groups,
        configs=tuple(reports),
    )


def _aliases(model: type[BaseModel]) -> dict[str, str]:
    """Field name -> the key integrators write (the alias when there is one)."""
    return {name: info.alias or name for name, info in model.model_fields.items()}


def _key_of(loc: tuple[int | str, ...], aliases: Mapping[str, str]) -> str:
    if not loc:
        return "(config)"
    head = str(loc[0])
    return ".".join([aliases.get(head, head), *(str(p) for p in loc[1:])])


def _reason(err: ErrorDetails) -> str:
    if err["type"] == "extra_forbidden":
        return "unknown key for this plugin"
    if err["type"] == "missing":
        return "required"
    return err["msg"]


def _kafka_type(annotation: Any) -> str:
    """Kafka Connect's type name for a field annotation (Optional and Annotated unwrapped)."""
    args = [a for a in get_args(annotation) if a is not type(None)]
    origin = get_origin(annotation)
    if origin is Annotated or (origin in (Union, UnionType) and len(args) == 1):
        return _kafka_type(args[0])
    if origin in (list, tuple, set, frozenset):
        return "LIST"
    simple = {bool: "BOOLEAN", int: "INT", float: "DOUBLE", SecretStr: "PASSWORD"}
    return simple.get(annotation, "STRING") if isinstance(annotation, type) else "STRING"


def _as_text(value: Any) -> str | None:
    """Kafka Connect reports values as strings."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, SecretStr):
        return HIDDEN
    if isinstance(value, str | int | float):
        return str(value)
    return orjson.dumps(value, default=str).decode()
