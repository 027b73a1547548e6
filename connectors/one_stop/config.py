"""Configuration of the `one-stop` connector (flat, Kafka Connect style dotted keys)."""

from __future__ import annotations

from pydantic import Field, SecretStr, field_validator

from gateway.connect.plugin import ConnectorConfig


class OneStopConfig(ConnectorConfig):
    """Where the webhook listens and the secret the one-stop system signs with."""

    listen_host: str = Field(
        default="127.0.0.1", alias="listen.host", min_length=1,
        description="Address the webhook binds to; 0.0.0.0 for every interface.",
    )
    listen_port: int = Field(
        default=8181, ge=0, le=65535, alias="listen.port",
        description="Port of the webhook (POST /webhooks/dossier-events); 0 picks a free one.",
    )
    webhook_secret: SecretStr = Field(
        alias="webhook.secret",
        description="Shared secret of the HMAC-SHA256 signature in 'X-Signature: "
        "sha256=<hex>' or 'X-Signature: t=<unix time>,v1=<hex>'; at least 16 characters. "
        "Never logged.",
    )
    webhook_signature_tolerance_s: int = Field(
        default=300, ge=1, le=86_400, alias="webhook.signature.tolerance.s",
        description="A time-stamped signature (t=...,v1=...) is refused when t is further "
        "than this from the gateway's clock.",
    )
    webhook_max_concurrent: int = Field(
        default=256, ge=1, le=10_000, alias="webhook.max.concurrent",
        description="Requests handled at once; more get 429 with Retry-After.",
    )
    webhook_max_batch: int = Field(
        default=1000, ge=1, le=10_000, alias="webhook.max.batch",
        description="Most events one request may carry in {\"events\": [...]}.",
    )
    webhook_max_body_bytes: int = Field(
        default=4 * 1024 * 1024, ge=1024, le=64 * 1024 * 1024, alias="webhook.max.body.bytes",
        description="Largest request body accepted; larger ones get 413.",
    )

    @field_validator("webhook_secret")
    @classmethod
    def _long_enough(cls, value: SecretStr) -> SecretStr:
        # The signature is the webhook's only authentication: refuse a guessable secret.
        if len(value.get_secret_value()) < 16:
            raise ValueError("must be at least 16 characters")
        return value
