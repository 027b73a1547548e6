"""The contract between the connector runtime and a connector plugin."""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from types import UnionType
from typing import Annotated, Any, ClassVar, Generic, Protocol, TypeVar, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, SecretBytes, SecretStr

from gateway.contracts import AgencyCode

ENTRY_POINT_GROUP = "lgsp.connectors"
# Key of the validation context that holds the folder file-reading connectors are confined
# to (a resolved Path); absent, no confinement is checked (trusted callers such as tests).
FILES_ROOT_CONTEXT = "lgsp.files_root"


class ConnectorConfig(BaseModel):
    """Keys every connector accepts; plugins subclass it and add their own.

    Keys use Kafka Connect's dotted style (`connector.class`, `poll.interval.ms`) through
    aliases, so a config is a flat JSON object as integrators expect.
    """

    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)

    connector_class: str = Field(alias="connector.class",
                                 description="Plugin name, e.g. ioffice.")
    source_agency_code: AgencyCode = Field(
        alias="source.agency.code",
        description="Agency electronic identifier of the system's owner, e.g. 000.00.00.H12.",
    )
    target_service: str | None = Field(
        default=None, alias="target.service",
        description="NDXP service code for every record; empty lets the routing table decide.",
    )
    topic: str | None = Field(
        default=None, description="Kafka topic to publish to; default lgsp.src.<name>."
    )
    tasks_max: int = Field(default=1, ge=1, le=1, alias="tasks.max",
                           description="Accepted for Kafka Connect compatibility; always 1.")

    extra_secret_keys: ClassVar[frozenset[str]] = frozenset()
    """Keys that hold secrets although their type is not SecretStr (a plugin's choice)."""

    @classmethod
    def secret_keys(cls) -> frozenset[str]:
        """The keys shown as `[hidden]` everywhere and sealed at rest.

        Declared by the model: every SecretStr/SecretBytes field, every key in
        `extra_secret_keys`, and any key whose name says it is a secret (password,
        secret, token, credential), so a plugin that forgets the type still hides them.
        """
        keys = set(cls.extra_secret_keys)
        for field_name, info in cls.model_fields.items():
            key = info.alias or field_name
            if _is_secret_type(info.annotation) or looks_secret(key):
                keys.add(key)
        return frozenset(keys)


_SECRET_WORDS = ("password", "passwd", "secret", "token", "credential")


def looks_secret(key: str) -> bool:
    """Whether a config key's name says it holds a secret."""
    lowered = key.lower()
    return any(word in lowered for word in _SECRET_WORDS)


def _is_secret_type(annotation: Any) -> bool:
    origin = get_origin(annotation)
    if origin is Annotated or origin in (Union, UnionType):
        return any(_is_secret_type(a) for a in get_args(annotation) if a is not type(None))
    return isinstance(annotation, type) and issubclass(annotation, SecretStr | SecretBytes)


@dataclass(frozen=True, slots=True)
class SourceRecord:
    """One change read from a provincial system, before it becomes an envelope.

    `source_id` identifies the change at the source (an event id, a document id plus its
    modification time); the transaction id is derived from it, so a record re-read after
    a crash keeps its transaction id and the national side sees it once.
    """

    source_id: str
    message_type: str
    payload: Mapping[str, Any]
    business_key: str
    occurred_at: datetime
    correlation_id: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)


class SourceContext(Protocol):
    """What the runtime offers a running connector."""

    @property
    def name(self) -> str:
        """The connector's registered name."""

    @property
    def position(self) -> Mapping[str, Any] | None:
        """The last committed source position, or None on first start."""

    async def emit(self, records: Sequence[SourceRecord]) -> list[str]:
        """Publish records; returns their transaction ids once Kafka acknowledged all.

        Raises ContractError if a payload does not fit its schema (nothing is published
        for that call) and KafkaError if Kafka did not acknowledge.
        """

    async def commit_position(self, position: Mapping[str, Any]) -> None:
        """Durably store the source position; call only after `emit` returned."""


C = TypeVar("C", bound=ConnectorConfig)


class SourceConnector(abc.ABC, Generic[C]):
    """Base class of connector plugins.

    Lifecycle: `start` acquires resources (binds a server, opens a folder), `run` works
    until cancelled and raises to report the connector FAILED, `stop` releases resources.
    Pause stops the connector; resume starts it again from its committed position.
    """

    plugin_name: ClassVar[str]
    source_system: ClassVar[str]
    config_model: ClassVar[type[ConnectorConfig]]
    description: ClassVar[str] = ""
    default_routes: ClassVar[Mapping[str, str]] = {}
    """Message type -> national service code, used unless settings route it elsewhere."""

    def __init__(self, config: C, context: SourceContext) -> None:
        self.config = config
        self.context = context

    async def start(self) -> None:
        """Acquire resources before `run`."""

    @abc.abstractmethod
    async def run(self) -> None:
        """Move records from the source onto Kafka until cancelled."""

    async def stop(self) -> None:
        """Release resources; called after `run` ended or was cancelled."""
