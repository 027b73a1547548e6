"""Configuration of the `ioffice` connector (flat, Kafka Connect style dotted keys)."""

from __future__ import annotations

import ipaddress
from datetime import datetime
from typing import Literal

from pydantic import AnyHttpUrl, AwareDatetime, Field, SecretStr, field_validator, model_validator

from gateway.connect.plugin import ConnectorConfig


class IOfficeConfig(ConnectorConfig):
    """Where the iOffice document API is, how to authenticate, and how often to poll."""

    api_url: AnyHttpUrl = Field(
        alias="api.url",
        description="Base URL of the iOffice API, e.g. https://ioffice.camau.gov.vn; the "
        "connector calls {api.url}/api/v1/documents. https is required unless the host is "
        "a loopback address; redirects are never followed.",
    )
    api_auth_type: Literal["bearer", "api-key", "none"] = Field(
        default="bearer", alias="api.auth.type",
        description="bearer: 'Authorization: Bearer <api.token>'; api-key: '<api.key.header>: "
        "<api.token>'; none: no credentials (a test system on a closed network).",
    )
    api_token: SecretStr | None = Field(
        default=None, alias="api.token",
        description="Bearer token or API key issued by iOffice; required unless "
        "api.auth.type is none. Never logged.",
    )
    api_key_header: str = Field(
        default="X-API-Key", alias="api.key.header", min_length=1,
        description="Header name that carries the key when api.auth.type is api-key.",
    )
    poll_interval_ms: int = Field(
        default=5000, ge=50, le=3_600_000, alias="poll.interval.ms",
        description="Pause between two polls once a poll has read everything new.",
    )
    page_size: int = Field(
        default=100, ge=1, le=1000, alias="page.size",
        description="Documents per API page (page_size query parameter).",
    )
    request_timeout_ms: int = Field(
        default=10_000, ge=100, le=300_000, alias="request.timeout.ms",
        description="Timeout of one API request; a timeout counts as a transient outage.",
    )
    retry_backoff_max_ms: int = Field(
        default=60_000, ge=100, le=3_600_000, alias="retry.backoff.max.ms",
        description="Longest pause between polls while iOffice or Kafka is unavailable; "
        "pauses start at poll.interval.ms and double.",
    )
    response_max_bytes: int = Field(
        default=8 * 1024 * 1024, ge=1024, le=256 * 1024 * 1024, alias="response.max.bytes",
        description="Largest API answer read; a larger one counts as a transient outage "
        "(lower page.size if real pages are this large).",
    )
    poll_max_pages: int = Field(
        default=200, ge=1, le=100_000, alias="poll.max.pages",
        description="Most pages one poll reads; a source that keeps answering pages "
        "without the cursor moving is then backed off from.",
    )
    auth_failures_max: int = Field(
        default=3, ge=1, le=100, alias="auth.failures.max",
        description="Consecutive 401/403/404 answers after which the connector fails "
        "(wrong token or URL needs an operator, not retries).",
    )
    start_modified_since: AwareDatetime | None = Field(
        default=None, alias="start.modified.since",
        description="On first start (no committed position): read documents modified at or "
        "after this ISO 8601 time with offset; empty reads the whole history.",
    )
    errors_tolerance: Literal["none", "all"] = Field(
        default="none", alias="errors.tolerance",
        description="none: a document that does not fit the contract fails the connector "
        "(nothing is skipped); all: log it with the reason and move on.",
    )

    @field_validator("api_url")
    @classmethod
    def _https_unless_loopback(cls, value: AnyHttpUrl) -> AnyHttpUrl:
        # The token travels with every request: in clear text only to this machine.
        if value.scheme != "https" and not _loopback(value.host or ""):
            raise ValueError("must be https:// unless the host is a loopback address")
        return value

    @model_validator(mode="after")
    def _token_present(self) -> IOfficeConfig:
        if self.api_auth_type != "none" and (
            self.api_token is None or not self.api_token.get_secret_value()
        ):
            raise ValueError("api.token is required unless api.auth.type is none")
        return self

    @property
    def documents_url(self) -> str:
        """The document listing endpoint."""
        return str(self.api_url).rstrip("/") + "/api/v1/documents"

    def auth_headers(self) -> dict[str, str]:
        """Request headers that carry the credentials."""
        if self.api_auth_type == "none" or self.api_token is None:
            return {}
        secret = self.api_token.get_secret_value()
        if self.api_auth_type == "bearer":
            return {"Authorization": f"Bearer {secret}"}
        return {self.api_key_header: secret}

    def first_since(self) -> datetime | None:
        """Where the first poll starts when nothing is committed."""
        return self.start_modified_since


def _loopback(host: str) -> bool:
    if host.lower() in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
