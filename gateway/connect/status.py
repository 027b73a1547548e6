"""What the connector runtime reports: states, statuses and validation results.

Plain frozen dataclasses; the admin API turns them into its pydantic response models.
Names and shapes follow Kafka Connect's REST API so integrators read them without a
manual.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

CONNECTOR_TYPE = "source"
"""Every lgsp connector moves data from a provincial system onto Kafka."""


class ConnectorState(StrEnum):
    """Kafka Connect's connector and task states (RESTARTING and STOPPED are not used)."""

    UNASSIGNED = "UNASSIGNED"
    """Configured, but not started (yet): between create/resume and a successful start."""
    RUNNING = "RUNNING"
    PAUSED = "PAUSED"
    FAILED = "FAILED"


class TargetState(StrEnum):
    """What the operator asked for; stored with the config so it survives a restart."""

    RUNNING = "running"
    PAUSED = "paused"


@dataclass(frozen=True, slots=True)
class TaskId:
    """A task of a connector; lgsp connectors always have exactly task 0."""

    connector: str
    task: int = 0


@dataclass(frozen=True, slots=True)
class TaskStatus:
    """State of one task; `trace` holds the failure's traceback when FAILED."""

    id: int
    state: ConnectorState
    worker_id: str
    trace: str | None = None


@dataclass(frozen=True, slots=True)
class ConnectorStateInfo:
    """State of the connector itself; `trace` is the one-line error when FAILED."""

    state: ConnectorState
    worker_id: str
    trace: str | None = None


@dataclass(frozen=True, slots=True)
class ConnectorStatus:
    """Kafka Connect's status document for one connector."""

    name: str
    connector: ConnectorStateInfo
    tasks: tuple[TaskStatus, ...]
    type: str = CONNECTOR_TYPE


@dataclass(frozen=True, slots=True)
class ConnectorInfo:
    """A connector's name, config (as submitted) and tasks."""

    name: str
    config: dict[str, Any]
    tasks: tuple[TaskId, ...]
    type: str = CONNECTOR_TYPE


@dataclass(frozen=True, slots=True)
class PluginInfo:
    """An installed connector plugin, as `GET /connector-plugins` lists it."""

    name: str
    class_path: str
    version: str
    source_system: str
    description: str = ""
    type: str = CONNECTOR_TYPE


@dataclass(frozen=True, slots=True)
class ConfigKeyDefinition:
    """Kafka Connect's `ConfigKeyInfo`: one config key a plugin accepts."""

    name: str
    type: str
    required: bool
    default_value: str | None
    importance: str
    documentation: str
    group: str
    order: int
    display_name: str
    width: str = "NONE"
    dependents: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ConfigKeyValue:
    """Kafka Connect's `ConfigValueInfo`: the submitted value of one key and its errors."""

    name: str
    value: str | None
    errors: tuple[str, ...] = ()
    recommended_values: tuple[str, ...] = ()
    visible: bool = True


@dataclass(frozen=True, slots=True)
class ConfigKeyReport:
    """One key of a validation: its definition beside the submitted value."""

    definition: ConfigKeyDefinition
    value: ConfigKeyValue


@dataclass(frozen=True, slots=True)
class ConfigValidation:
    """Kafka Connect's `ConfigInfos`: the result of validating a config for a plugin."""

    name: str
    error_count: int
    groups: tuple[str, ...]
    configs: tuple[ConfigKeyReport, ...] = field(default_factory=tuple)
