"""The `ioffice` connector: polls iOffice's document API and publishes each change.

Each poll pages through documents modified at or after the cursor's time, skips those at
or before the cursor, and publishes the rest page by page: `emit` (Kafka acknowledged),
then `commit_position` with the last document published. A crash between the two re-reads
the page, and the records get the same transaction ids because the source id is
`document_id@modified_at`.

Hostile or broken sources: an answer over `response.max.bytes`, a page with more items
than asked for, and a redirect (never followed: the credentials would go with it) are
unreadable answers; a poll ends after `poll.max.pages` pages, and if the cursor did not
move in them, the source is backed off from like an outage.

Failure policy: an unreachable API, a timeout, a 5xx or 429, or an unreadable answer is a
transient outage: logged, and the next poll comes after a growing pause (up to
`retry.backoff.max.ms`). The same goes for a Kafka outage. `auth.failures.max` consecutive
401/403/404 answers fail the connector: a wrong token or URL needs an operator, and
retrying forever would hide it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, ClassVar

import aiohttp
import orjson
import yarl
from pydantic import ValidationError

from connectors.ioffice.api import Cursor, Document, Page
from connectors.ioffice.config import IOfficeConfig
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
from gateway.settings import problems_from

MESSAGE_TYPE = "ioffice.document"
_REFUSED = frozenset({400, 401, 403, 404})

log = get_logger(__name__)


class IOfficeConnector(SourceConnector[IOfficeConfig]):
    """Polls iOffice for new and changed official documents."""

    plugin_name: ClassVar[str] = "ioffice"
    source_system: ClassVar[str] = "ioffice"
    config_model: ClassVar[type[IOfficeConfig]] = IOfficeConfig
    description: ClassVar[str] = (
        "Polls the iOffice document API (modified_since cursor, paged) and publishes "
        "official documents as ioffice.document."
    )

    def __init__(self, config: IOfficeConfig, context: SourceContext) -> None:
        super().__init__(config, context)
        self._session: aiohttp.ClientSession | None = None
        self._cursor: Cursor | None = None
        self._refusals = 0
        self._backoff = Backoff(config.poll_interval_ms / 1000,
                                config.retry_backoff_max_ms / 1000).timer()

    async def start(self) -> None:
        """Open the HTTP session and load the committed cursor."""
        position = self.context.position
        self._cursor = Cursor.from_position(position) if position else None
        timeout = aiohttp.ClientTimeout(total=self.config.request_timeout_ms / 1000)
        self._session = aiohttp.ClientSession(
            timeout=timeout, headers=self.config.auth_headers(), raise_for_status=False
        )

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
            event="ioffice_poll",
            details=lambda: {"cursor": self._cursor.to_position() if self._cursor else None})

    async def poll_once(self) -> int:
        """Read everything new since the cursor; returns how many documents were published."""
        since = self._cursor.modified_at if self._cursor else self.config.first_since()
        page_no = 1
        published = 0
        start = self._cursor
        for _ in range(self.config.poll_max_pages):
            page = await self._fetch(since, page_no)
            fresh, last, refused = self._fresh(page.items)
            if fresh:
                await self._publish(fresh)
                published += len(fresh)
            if last is not None:
                # Skipped-as-invalid documents (errors.tolerance=all) move the cursor too.
                await self._advance(last)
            if refused is not None:
                # errors.tolerance=none: what came before the bad document is published
                # and committed, so a restart resumes exactly at it.
                raise refused
            if not page.items or page.page >= page.total_pages:
                return published
            if last is not None and (since is None or last.modified_at > since):
                # Keyset paging: ask again from the new cursor time, so documents that
                # changed while we paged cannot shift an unread one onto a page we passed.
                since, page_no = last.modified_at, 1
            elif last is None:
                page_no += 1
            # else: progress inside one timestamp group bigger than a page; asking for the
            # same page again costs one request and catches any shift within the group.
        if self._cursor == start:
            raise SourceUnavailableError(
                f"iOffice API {self.config.documents_url} answered {self.config.poll_max_pages}"
                " pages (poll.max.pages) without a new document: it seems to ignore paging")
        # A long backlog: what was read is committed; the next poll goes on from there.
        return published

    def _fresh(
        self, items: Sequence[dict[str, Any]]
    ) -> tuple[list[Document], Cursor | None, SchemaMismatchError | None]:
        """Documents after the cursor, the key of the last item taken (valid or skipped),
        and, with errors.tolerance=none, the error of the first invalid document (the
        documents before it are returned; nothing after it)."""
        fresh: list[Document] = []
        last: Cursor | None = None
        floor = self._cursor
        for raw in items:
            try:
                doc = Document.model_validate(raw)
            except ValidationError as exc:
                key = Cursor.lenient_key(raw)
                if key is not None and floor is not None and key <= floor:
                    continue
                doc_id = str(raw.get("document_id", "?"))[:100]
                reason = "; ".join(str(p) for p in problems_from(exc))
                if self.config.errors_tolerance == "none":
                    return fresh, last, SchemaMismatchError(
                        f"iOffice document {doc_id} does not fit {MESSAGE_TYPE}: {reason}"
                    )
                log.error("ioffice_document_skipped", connector=self.context.name,
                          document_id=doc_id, reason=reason)
                if key is not None:
                    last = key
                continue
            if floor is not None and doc.key <= floor:
                continue
            fresh.append(doc)
            last = doc.key
        return fresh, last, None

    async def _publish(self, docs: list[Document]) -> None:
        records = [_record(d) for d in docs]
        try:
            await self.context.emit(records)
        except ContractError:
            if self.config.errors_tolerance == "none":
                raise
            # Find the offending documents one by one; the rest still go out.
            for doc, record in zip(docs, records, strict=True):
                try:
                    await self.context.emit([record])
                except ContractError as exc:
                    log.error("ioffice_document_skipped", connector=self.context.name,
                              document_id=doc.document_id, reason=str(exc))

    async def _advance(self, last: Cursor) -> None:
        if self._cursor is None or last > self._cursor:
            await self.context.commit_position(last.to_position())
            self._cursor = last

    async def _fetch(self, since: datetime | None, page_no: int) -> Page:
        if self._session is None:
            raise RuntimeError("ioffice connector used before start()")
        params = {"page": str(page_no), "page_size": str(self.config.page_size)}
        if since is not None:
            params["modified_since"] = since.astimezone(UTC).isoformat()
        url = self.config.documents_url
        try:
            # No redirects: aiohttp would send the session's credentials along to
            # wherever the Location points.
            async with self._session.get(url, params=params, allow_redirects=False) as resp:
                status = resp.status
                if 300 <= status < 400:
                    where = _host_of(resp.headers.get("Location", ""))
                    raise SourceUnavailableError(
                        f"iOffice API {url} answered HTTP {status}, a redirect to {where}: "
                        "redirects are not followed; set api.url to the final address")
                body = await self._bounded_body(resp, url)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise SourceUnavailableError(
                f"iOffice API {url} unreachable: {type(exc).__name__}: {exc}"
            ) from exc
        if status in _REFUSED:
            self._refusals += 1
            message = f"iOffice API {url} answered HTTP {status}"
            if self._refusals >= self.config.auth_failures_max:
                raise ConfigError(
                    f"{message} {self._refusals} times in a row: check api.url, "
                    "api.auth.type and api.token"
                )
            raise SourceUnavailableError(message)
        if status != 200:
            raise SourceUnavailableError(f"iOffice API {url} answered HTTP {status}")
        self._refusals = 0
        try:
            page = Page.model_validate(orjson.loads(body))
        except (orjson.JSONDecodeError, ValidationError) as exc:
            raise SourceUnavailableError(
                f"iOffice API {url} answered with an unreadable page: {type(exc).__name__}"
            ) from exc
        if len(page.items) > self.config.page_size:
            raise SourceUnavailableError(
                f"iOffice API {url} answered {len(page.items)} items for page_size="
                f"{self.config.page_size}; the page is refused")
        return page

    async def _bounded_body(self, resp: aiohttp.ClientResponse, url: str) -> bytes:
        """The answer's body, refused once it exceeds response.max.bytes."""
        limit = self.config.response_max_bytes
        too_large = SourceUnavailableError(
            f"iOffice API {url} answered more than response.max.bytes={limit} bytes")
        if resp.content_length is not None and resp.content_length > limit:
            raise too_large
        chunks: list[bytes] = []
        total = 0
        async for chunk in resp.content.iter_chunked(64 * 1024):
            total += len(chunk)
            if total > limit:
                raise too_large
            chunks.append(chunk)
        return b"".join(chunks)


def _host_of(location: str) -> str:
    """The host a redirect points at, for the message (the URL itself may carry secrets)."""
    try:
        return yarl.URL(location).host or "the same host"
    except ValueError:
        return "an unreadable Location"


def _record(doc: Document) -> SourceRecord:
    modified = doc.modified_at.astimezone(UTC).isoformat()
    return SourceRecord(
        source_id=f"{doc.document_id}@{modified}",
        message_type=MESSAGE_TYPE,
        payload=doc.payload(),
        business_key=doc.document_id,
        occurred_at=doc.modified_at,
        # Every version of one document shares a correlation id, so a trace shows them all.
        correlation_id=doc.document_id,
    )
