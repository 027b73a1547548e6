"""The `rest-poll` connector: any system that lists its records as JSON, polled by cursor.

Each poll asks `api.url?<cursor.param>=<cursor>&<page.size.param>=<page.size>`, maps every
record of the page to the configured message type, publishes the page (`emit`, Kafka
acknowledged), then commits the last record's cursor. A crash between the two re-reads
the page, and its records keep their transaction ids: the source id is the record id
(with its version when `record.version.field` is set). A page shorter than `page.size`
means the source has nothing more; the next poll comes after `poll.interval.ms`.

Failure policy, as the built-in pollers: an unreachable source, a timeout, a 5xx or 429,
or an unreadable answer is a transient outage (logged, retried after a growing pause); a
400/401/403/404 fails the connector (a wrong URL or token needs an operator). A record
that does not fit the mapping or the schema fails the connector with
errors.tolerance=none (what came before it is committed), or is logged and skipped
with errors.tolerance=all.
"""

from __future__ import annotations

__all__ = ["RestPollConnector"]

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, ClassVar

import aiohttp
import orjson

from connectors.rest_poll.config import RestPollConfig
from connectors.rest_poll.mapping import MappingError, lookup
from gateway.backoff import Backoff
from gateway.connect.plugin import SourceConnector, SourceContext, SourceRecord
from gateway.connect.polling import poll_forever
from gateway.errors import (
    ConfigError,
    ContractError,
    SchemaMismatchError,
    SourceUnavailableError,
)
from gateway.logs import get_logger

_REFUSED = frozenset({400, 401, 403, 404})
_MISSING = lookup({}, ("x",))

log = get_logger(__name__)


class RestPollConnector(SourceConnector[RestPollConfig]):
    """Polls a JSON list by cursor and publishes its records as a configured message type."""

    plugin_name: ClassVar[str] = "rest-poll"
    source_system: ClassVar[str] = "rest-poll"
    config_model: ClassVar[type[RestPollConfig]] = RestPollConfig
    description: ClassVar[str] = (
        "Polls any JSON list API by cursor and maps its records to a message type, "
        "configured without code (fields, paging, record id, business key, mapping)."
    )

    def __init__(self, config: RestPollConfig, context: SourceContext) -> None:
        super().__init__(config, context)
        self._session: aiohttp.ClientSession | None = None
        self._cursor: Any = None
        self._backoff = Backoff(config.poll_interval_ms / 1000,
                                config.retry_backoff_max_ms / 1000).timer()

    async def start(self) -> None:
        """Open the HTTP session and load the committed cursor."""
        position = self.context.position
        self._cursor = position.get("cursor") if position else self.config.start_cursor
        timeout = aiohttp.ClientTimeout(total=self.config.request_timeout_ms / 1000)
        self._session = aiohttp.ClientSession(timeout=timeout,
                                              headers=self.config.auth_headers())

    async def stop(self) -> None:
        """Close the HTTP session."""
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    async def run(self) -> None:
        """Poll until cancelled; raise only for problems an operator must fix."""
        await poll_forever(
            self.poll_once, connector=self.context.name,
            interval_s=self.config.poll_interval_ms / 1000, backoff=self._backoff,
            event="rest_poll")

    async def poll_once(self) -> int:
        """Read pages until a short one; returns how many records were published."""
        published = 0
        while True:
            items = await self._fetch(self._cursor)
            records, cursor, refused = self._map(items)
            if records:
                await self._publish(records)
                published += len(records)
            if cursor is not _MISSING and cursor != self._cursor:
                await self.context.commit_position({"cursor": cursor})
                self._cursor = cursor
            if refused is not None:
                raise refused
            if len(items) < self.config.page_size or cursor is _MISSING:
                return published

    def _map(self, items: Sequence[Any]) -> tuple[list[SourceRecord], Any,
                                                  SchemaMismatchError | None]:
        """Records of a page, the cursor after the last item taken, and (with
        errors.tolerance=none) the error of the first unfit record."""
        cfg = self.config
        records: list[SourceRecord] = []
        cursor: Any = _MISSING
        for raw in items:
            try:
                records.append(self._record(raw))
            except MappingError as exc:
                rid = _text(lookup(raw, _path(cfg.record_id_field)))
                if cfg.errors_tolerance == "none":
                    return records, cursor, SchemaMismatchError(
                        f"record {rid} does not fit {cfg.message_type}: {exc}")
                log.error("rest_poll_record_skipped", connector=self.context.name,
                          record_id=rid, reason=str(exc))
            value = lookup(raw, _path(cfg.cursor_field))
            if value is not _MISSING and value is not None:
                cursor = value
        return records, cursor, None

    def _record(self, raw: Any) -> SourceRecord:
        cfg = self.config
        if not isinstance(raw, Mapping):
            raise MappingError("a list item is not a JSON object")
        record_id = _required(raw, cfg.record_id_field, "record.id.field")
        source_id = record_id
        if cfg.record_version_field:
            source_id += "@" + _required(raw, cfg.record_version_field, "record.version.field")
        occurred = datetime.now(UTC)
        if cfg.occurred_at_field:
            text = _required(raw, cfg.occurred_at_field, "occurred.at.field")
            try:
                occurred = datetime.fromisoformat(text)
            except ValueError as exc:
                raise MappingError(f"occurred.at.field: {text[:60]!r} is not ISO 8601") from exc
            if occurred.tzinfo is None:
                raise MappingError(f"occurred.at.field: {text[:60]!r} has no UTC offset")
        return SourceRecord(
            source_id=source_id,
            message_type=cfg.message_type,
            payload=cfg.field_mapping.apply(raw),
            business_key=_required(raw, cfg.business_key_field, "business.key.field"),
            occurred_at=occurred,
            correlation_id=record_id,
        )

    async def _publish(self, records: list[SourceRecord]) -> None:
        try:
            await self.context.emit(records)
        except ContractError:
            if self.config.errors_tolerance == "none":
                raise
            for record in records:  # find the unfit ones; the rest still go out
                try:
                    await self.context.emit([record])
                except ContractError as exc:
                    log.error("rest_poll_record_skipped", connector=self.context.name,
                              record_id=record.correlation_id, reason=str(exc))

    async def _fetch(self, cursor: Any) -> list[Any]:
        if self._session is None:
            raise RuntimeError("rest-poll connector used before start()")
        cfg = self.config
        params = {cfg.page_size_param: str(cfg.page_size)}
        if cursor is not None:
            params[cfg.cursor_param] = _text(cursor)
        url = str(cfg.api_url)
        try:
            async with self._session.get(url, params=params) as resp:
                body = await resp.read()
                status = resp.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise SourceUnavailableError(
                f"source {url} unreachable: {type(exc).__name__}: {exc}") from exc
        if status in _REFUSED:
            raise ConfigError(f"source {url} answered HTTP {status}: check api.url and "
                              "api.token")
        if status != 200:
            raise SourceUnavailableError(f"source {url} answered HTTP {status}")
        try:
            answer = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise SourceUnavailableError(f"source {url} answered with no JSON") from exc
        items = lookup(answer, _path(cfg.records_path)) if cfg.records_path else answer
        if not isinstance(items, list):
            raise SourceUnavailableError(
                f"source {url} answered without a list at records.path "
                f"{cfg.records_path or '(the answer itself)'!r}")
        return items


def _path(dotted: str) -> tuple[str, ...]:
    return tuple(dotted.split("."))


def _required(raw: Mapping[str, Any], dotted: str, key: str) -> str:
    value = lookup(raw, _path(dotted))
    if value is _MISSING or value is None or value == "":
        raise MappingError(f"{key}: the record has no value at {dotted!r}")
    return _text(value)


def _text(value: Any) -> str:
    if value is _MISSING:
        return "?"
    return value if isinstance(value, str) else orjson.dumps(value).decode()
