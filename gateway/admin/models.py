"""Request and response bodies of the admin REST API (Kafka Connect's shapes).

These pydantic models are the API's contract: handlers validate requests with them,
serialise responses through them, and the OpenAPI document is generated from them.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue, RootModel

from gateway.connect import CONNECTOR_NAME_PATTERN, ConnectorState

__all__ = [
    "ConfigInfoModel",
    "ConfigInfosResponse",
    "ConfigKeyInfoModel",
    "ConfigValueInfoModel",
    "ConnectorConfigBody",
    "ConnectorExpanded",
    "ConnectorInfoResponse",
    "ConnectorStateModel",
    "ConnectorStatusResponse",
    "CreateConnectorRequest",
    "ErrorResponse",
    "HealthResponse",
    "PluginResponse",
    "TaskIdModel",
    "TaskStatusModel",
]

ConnectorConfigValues = dict[str, JsonValue]
"""A flat connector config: Kafka Connect's dotted keys, usually string values."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class CreateConnectorRequest(_Model):
    """Body of `POST /connectors`."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{
            "name": "ioffice-camau",
            "config": {"connector.class": "ioffice", "source.agency.code": "000.00.00.H12"},
        }]},
    )

    name: str = Field(pattern=CONNECTOR_NAME_PATTERN,
                      description="Connector name: 1-100 of A-Z a-z 0-9 . _ -, "
                      "not . or ..")
    config: ConnectorConfigValues = Field(
        description="Flat config; `connector.class` names the plugin."
    )


class ConnectorConfigBody(RootModel[ConnectorConfigValues]):
    """Body of `PUT /connectors/{name}/config` and of validate: a flat config object."""


class TaskIdModel(_Model):
    """A task of a connector; lgsp connectors have exactly task 0."""

    connector: str
    task: int


class ConnectorInfoResponse(_Model):
    """A connector's name, config and tasks."""

    name: str
    config: ConnectorConfigValues
    tasks: list[TaskIdModel]
    type: Literal["source"] = "source"


class ConnectorStateModel(_Model):
    """State of the connector; `trace` is the one-line error when FAILED."""

    state: ConnectorState
    worker_id: str
    trace: str | None = None


class TaskStatusModel(_Model):
    """State of one task; `trace`'s first line is the error, the rest its traceback."""

    id: int
    state: ConnectorState
    worker_id: str
    trace: str | None = None


class ConnectorStatusResponse(_Model):
    """`GET /connectors/{name}/status`."""

    name: str
    connector: ConnectorStateModel
    tasks: list[TaskStatusModel]
    type: Literal["source"] = "source"


class ConnectorExpanded(_Model):
    """One entry of `GET /connectors?expand=status&expand=info`."""

    status: ConnectorStatusResponse | None = None
    info: ConnectorInfoResponse | None = None


class PluginResponse(_Model):
    """An installed connector plugin; `class` is what `connector.class` takes."""

    class_: str = Field(alias="class", description="Plugin name to use as connector.class.")
    type: Literal["source"] = "source"
    version: str
    class_path: str = Field(description="Python class; also accepted as connector.class.")
    source_system: str
    description: str = ""


class ConfigKeyInfoModel(_Model):
    """Kafka Connect's ConfigKeyInfo."""

    name: str
    type: str
    required: bool
    default_value: str | None
    importance: str
    documentation: str
    group: str
    order: int
    width: str
    display_name: str
    dependents: list[str]


class ConfigValueInfoModel(_Model):
    """Kafka Connect's ConfigValueInfo."""

    name: str
    value: str | None
    recommended_values: list[str]
    errors: list[str]
    visible: bool


class ConfigInfoModel(_Model):
    """One key of a validation result."""

    definition: ConfigKeyInfoModel
    value: ConfigValueInfoModel


class ConfigInfosResponse(_Model):
    """`PUT /connector-plugins/{plugin}/config/validate`."""

    name: str
    error_count: int
    groups: list[str]
    configs: list[ConfigInfoModel]


class ErrorResponse(_Model):
    """Every error: the HTTP status again and one line saying what was wrong."""

    error_code: int
    message: str


class HealthResponse(_Model):
    """`/healthz` and `/readyz` when all is well."""

    status: Literal["ok", "ready"]
