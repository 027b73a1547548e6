"""Configuration of the `rest-poll` connector: everything about the source in flat keys.

Example (the whole connector, no code):

    {"connector.class": "rest-poll", "source.agency.code": "000.00.00.H12",
     "api.url": "http://10.0.0.5/api/v2/submissions", "api.token": "${env:REPORTS_TOKEN}",
     "records.path": "data", "cursor.param": "after", "cursor.field": "seq",
     "page.size.param": "limit", "page.size": 100,
     "record.id.field": "id", "record.version.field": "seq",
     "business.key.field": "commune", "occurred.at.field": "sent_at",
     "message.type": "reporting.report_submission",
     "payload.mapping": {"report_code": "form", "reporting_unit_code": "commune", ...}}
"""

from __future__ import annotations

__all__ = ["RestPollConfig"]

import functools
from typing import Any, Literal

import orjson
from pydantic import (
    AnyHttpUrl,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from connectors.rest_poll.mapping import FieldMapping, MappingError, compile_mapping
from gateway.connect.discovery import SCHEMAS_CONTEXT_KEY
from gateway.connect.plugin import ConnectorConfig
from gateway.contracts import SchemaRegistry, load_schemas
from gateway.errors import GatewayError
from gateway.settings import Settings

_PATH = r"^[A-Za-z0-9_$-]+(\.[A-Za-z0-9_$-]+)*$"


@functools.cache
def _default_registry() -> SchemaRegistry:
    # A model validated on its own (no runtime): the contracts `lgsp run` would load.
    return load_schemas(Settings().schemas_dir)


def _registry(info: ValidationInfo) -> SchemaRegistry:
    given = (info.context or {}).get(SCHEMAS_CONTEXT_KEY)
    return given if isinstance(given, SchemaRegistry) else _default_registry()


class RestPollConfig(ConnectorConfig):
    """Where the JSON list is, how to page it, and how its records become a message type."""

    api_url: AnyHttpUrl = Field(
        alias="api.url", description="URL of the JSON list, e.g. https://host/api/v2/items.")
    api_token: SecretStr | None = Field(
        default=None, alias="api.token",
        description="Sent as 'Authorization: Bearer <token>'; empty sends no credentials. "
        "Never logged.")
    records_path: str = Field(
        default="", alias="records.path", pattern=r"^$|" + _PATH,
        description="Dotted path of the list in the answer (e.g. data); empty: the answer "
        "is the list.")
    cursor_param: str = Field(
        default="after", alias="cursor.param", min_length=1,
        description="Query parameter that carries the cursor (records after it come back).")
    cursor_field: str = Field(
        alias="cursor.field", pattern=_PATH,
        description="Record field whose value, in the last record read, is the next cursor; "
        "strictly increasing (a change sequence number, an id).")
    page_size_param: str = Field(
        default="limit", alias="page.size.param", min_length=1,
        description="Query parameter that carries the page size.")
    page_size: int = Field(default=100, ge=1, le=10_000, alias="page.size",
                           description="Records asked for per request; a shorter page means "
                           "the source has nothing more for now.")
    start_cursor: str | None = Field(
        default=None, alias="start.cursor",
        description="Cursor of the first request when nothing is committed; empty: from the "
        "beginning (no cursor parameter).")
    record_id_field: str = Field(
        alias="record.id.field", pattern=_PATH,
        description="Record field that identifies the record at the source.")
    record_version_field: str | None = Field(
        default=None, alias="record.version.field", pattern=_PATH,
        description="Record field that changes when the record changes (e.g. updated_at); "
        "with it, each version is its own transaction.")
    business_key_field: str = Field(
        alias="business.key.field", pattern=_PATH,
        description="Record field whose value orders transactions (one dossier, one unit).")
    occurred_at_field: str | None = Field(
        default=None, alias="occurred.at.field", pattern=_PATH,
        description="Record field with the ISO 8601 time of the change; empty: time read.")
    message_type: str = Field(alias="message.type",
                              description="Message type (schema name) the records become.")
    mapping: dict[str, Any] = Field(
        alias="payload.mapping",
        description="Message type field -> dotted path in the record, or {\"const\": value}.")
    poll_interval_ms: int = Field(
        default=5000, ge=50, le=3_600_000, alias="poll.interval.ms",
        description="Pause between two polls once a poll has read everything new.")
    request_timeout_ms: int = Field(
        default=10_000, ge=100, le=300_000, alias="request.timeout.ms",
        description="Timeout of one request; a timeout counts as a transient outage.")
    retry_backoff_max_ms: int = Field(
        default=60_000, ge=100, le=3_600_000, alias="retry.backoff.max.ms",
        description="Longest pause between polls while the source or Kafka is unavailable.")
    errors_tolerance: Literal["none", "all"] = Field(
        default="none", alias="errors.tolerance",
        description="none: a record that does not fit fails the connector (nothing is "
        "skipped); all: log it with the reason and move on.")

    _compiled: FieldMapping | None = PrivateAttr(default=None)

    @field_validator("message_type")
    @classmethod
    def _known_type(cls, value: str, info: ValidationInfo) -> str:
        registry = _registry(info)
        if value not in registry.names():
            raise ValueError(f"no schema {value!r}; known: {', '.join(registry.names())}")
        return value

    @field_validator("mapping", mode="before")
    @classmethod
    def _json_text(cls, value: object) -> object:
        # From the CLI's --set a mapping arrives as JSON text.
        if isinstance(value, str | bytes):
            try:
                return orjson.loads(value)
            except orjson.JSONDecodeError as exc:
                raise ValueError(f"not a JSON object: {exc}") from exc
        return value

    @field_validator("mapping")
    @classmethod
    def _fits_the_schema(cls, value: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        message_type = info.data.get("message_type")
        if message_type is None:
            return value  # message.type is refused on its own; nothing to check against
        schema = _registry(info).latest(message_type).raw
        try:
            compile_mapping(message_type, schema, value)
        except MappingError as exc:
            raise ValueError(str(exc)) from exc
        return value

    @model_validator(mode="after")
    def _compile(self, info: ValidationInfo) -> RestPollConfig:
        try:
            schema = _registry(info).latest(self.message_type).raw
        except GatewayError as exc:  # pragma: no cover - refused by _known_type first
            raise ValueError(str(exc)) from exc
        self._compiled = compile_mapping(self.message_type, schema, self.mapping)
        return self

    @property
    def field_mapping(self) -> FieldMapping:
        """The mapping, checked against the message type's latest schema."""
        if self._compiled is None:  # pragma: no cover - set by validation
            raise RuntimeError("config used before validation")
        return self._compiled

    def auth_headers(self) -> dict[str, str]:
        """Request headers that carry the credentials."""
        if self.api_token is None or not self.api_token.get_secret_value():
            return {}
        return {"Authorization": f"Bearer {self.api_token.get_secret_value()}"}
