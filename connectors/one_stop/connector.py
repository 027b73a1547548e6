"""The `one-stop` connector: a webhook the one-stop system pushes dossier events to.

`POST /webhooks/dossier-events`, body signed with HMAC-SHA256 (`X-Signature: sha256=<hex>`,
or time-stamped `X-Signature: t=<unix time>,v1=<hex>`, see signature.py). The answer says
what happened to the whole body, all or nothing:

- 200 `{"accepted": n, "transaction_ids": [...]}` only after Kafka acknowledged every event;
- 401 bad or missing signature, 400 `{"error": "<field>: <reason>", "field": ...}` for a
  body that is not JSON, misses a field or does not fit the schema, 413 too large: in each
  case nothing is published, and sending the same body again will not help (413 too
  for a body whose record would exceed Kafka's maximum size);
- 429 (`Retry-After: 1`) when `webhook.max.concurrent` requests are already being handled;
- 503 (`Retry-After: 1`) when Kafka did not acknowledge: send the same body again. A
  resent event keeps its `event_id`, hence its transaction id, so the national side sees
  it once even if the first attempt was in fact published.
"""

from __future__ import annotations

import asyncio
from datetime import UTC
from typing import ClassVar

import orjson
from aiohttp import web

from connectors._http_server import HttpServer
from connectors.one_stop.config import OneStopConfig
from connectors.one_stop.events import InvalidEventError, parse_events
from connectors.one_stop.signature import SIGNATURE_HEADER, Verdict, check
from gateway.connect.plugin import SourceConnector, SourceContext
from gateway.errors import ContractError, KafkaError, RecordTooLargeError
from gateway.logs import get_logger, redact_text

WEBHOOK_PATH = "/webhooks/dossier-events"
# The position is informational for a push source (counts, last event time), so it is
# written now and then rather than once per request.
_POSITION_EVERY_S = 5.0

log = get_logger(__name__)


def _json(status: int, body: dict[str, object], headers: dict[str, str] | None = None
          ) -> web.Response:
    return web.Response(status=status, body=orjson.dumps(body),
                        content_type="application/json", headers=headers)


class OneStopConnector(SourceConnector[OneStopConfig]):
    """Receives signed dossier events from the one-stop (administrative procedure) system."""

    plugin_name: ClassVar[str] = "one-stop"
    source_system: ClassVar[str] = "one-stop"
    config_model: ClassVar[type[OneStopConfig]] = OneStopConfig
    description: ClassVar[str] = (
        "Webhook (HMAC-SHA256 signed) for dossier status events of the one-stop system; "
        "answers 200 only once Kafka acknowledged them."
    )

    def __init__(self, config: OneStopConfig, context: SourceContext) -> None:
        super().__init__(config, context)
        self._secret = config.webhook_secret.get_secret_value().encode()
        previous = context.position or {}
        self._accepted = int(previous.get("accepted", 0))
        self._last_occurred_at: str | None = previous.get("last_occurred_at")
        self._committed = self._accepted
        self._in_flight = 0
        app = web.Application(client_max_size=config.webhook_max_body_bytes)
        app.router.add_post(WEBHOOK_PATH, self._receive)
        self._server = HttpServer(app, config.listen_host, config.listen_port,
                                  what="one-stop webhook")

    @property
    def port(self) -> int:
        """The bound port (useful when listen.port is 0)."""
        return self._server.port

    @property
    def webhook_url(self) -> str:
        """Full URL the one-stop system posts to."""
        return self._server.url + WEBHOOK_PATH

    async def start(self) -> None:
        """Bind the webhook; ConfigError if the address is taken."""
        await self._server.start()
        log.info("one_stop_webhook_listening", connector=self.context.name, url=self.webhook_url)

    async def run(self) -> None:
        """Requests are served by the server; here, keep the informational position fresh."""
        while True:
            await asyncio.sleep(_POSITION_EVERY_S)
            await self._commit_position()

    async def stop(self) -> None:
        """Stop accepting requests; in-flight ones finish (bounded) first."""
        await self._server.stop()

    async def _commit_position(self) -> None:
        if self._accepted == self._committed:
            return
        accepted = self._accepted
        try:
            await self.context.commit_position(
                {"accepted": accepted, "last_occurred_at": self._last_occurred_at}
            )
        except KafkaError as exc:
            if not exc.retriable:
                raise
            log.warning("one_stop_position_not_saved", connector=self.context.name,
                        error=str(exc))
            return
        self._committed = accepted

    async def _receive(self, request: web.Request) -> web.Response:
        if self._in_flight >= self.config.webhook_max_concurrent:
            # Refused before the body is read: a flood of slow uploads cannot pin memory.
            return _json(429, {"error": "too many requests at once, send again shortly"},
                         {"Retry-After": "1"})
        self._in_flight += 1
        try:
            return await self._handle(request)
        finally:
            self._in_flight -= 1

    def _refused(self, exc: ContractError) -> web.Response:
        """The answer to a body that can never be stored as sent (nothing was published)."""
        log.info("one_stop_event_refused", connector=self.context.name, reason=str(exc))
        error = redact_text(str(exc))
        if isinstance(exc, InvalidEventError):
            return _json(400, {"error": error, "field": exc.field})
        if isinstance(exc, RecordTooLargeError):
            return _json(413, {"error": error})
        return _json(400, {"error": error})

    async def _handle(self, request: web.Request) -> web.Response:
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return _json(413, {"error": f"body larger than {self.config.webhook_max_body_bytes}"
                                        " bytes (webhook.max.body.bytes)"})
        verdict = check(self._secret, body, request.headers.get(SIGNATURE_HEADER),
                        tolerance_s=self.config.webhook_signature_tolerance_s)
        if verdict is not Verdict.OK:
            log.warning("one_stop_bad_signature", connector=self.context.name,
                        peer=request.remote, why=verdict.value)
            return _json(401, {"error": f"missing or wrong {SIGNATURE_HEADER} signature"})
        try:
            records = parse_events(body, max_batch=self.config.webhook_max_batch)
            tx_ids = await self.context.emit(records)
        except ContractError as exc:
            return self._refused(exc)
        except KafkaError as exc:
            # Not acknowledged: the sender must retry; it keeps the event ids.
            log.warning("one_stop_kafka_unavailable", connector=self.context.name,
                        error=str(exc))
            return _json(503, {"error": "not stored, send again later"}, {"Retry-After": "1"})
        self._accepted += len(records)
        self._last_occurred_at = records[-1].occurred_at.astimezone(UTC).isoformat()
        return _json(200, {"accepted": len(tx_ids), "transaction_ids": tx_ids})
