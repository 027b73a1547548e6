"""Pages from Jinja2 templates (autoescaped), in the visitor's language."""

from __future__ import annotations

__all__ = ["page", "see_other", "templates"]

from datetime import UTC, datetime
from typing import Any

import jinja2
from aiohttp import web

from gateway.console.i18n import LANGUAGES, translate

_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("gateway.console", "templates"),
    autoescape=jinja2.select_autoescape(default=True, default_for_string=True),
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def templates() -> jinja2.Environment:
    """The template environment (tests render with it too)."""
    return _ENV


def _when(value: datetime | int | float | None) -> str:
    """A moment as people read it in logs: UTC, to the second."""
    if value is None:
        return "—"
    if not isinstance(value, datetime):
        value = datetime.fromtimestamp(float(value) / 1000, UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


_ENV.filters["when"] = _when


def page(request: web.Request, template: str, *, lang: str, status: int = 200,
         **context: Any) -> web.Response:
    """The rendered page; `context` adds to what every page gets (t, lang, path)."""

    def t(key: str, **values: object) -> str:
        return translate(lang, key, **values)

    html = _ENV.get_template(template).render(
        t=t, lang=lang, languages=LANGUAGES, path=request.path,
        query=request.query_string, **context)
    response = web.Response(text=html, status=status, content_type="text/html")
    _harden(response)
    return response


def see_other(location: str) -> web.Response:
    """A 303 to `location` (after a POST, or to the sign-in page)."""
    response = web.Response(status=303, headers={"Location": location})
    response.headers["Cache-Control"] = "no-store"
    return response


def _harden(response: web.StreamResponse) -> None:
    # Nothing from other hosts, no inline script, no framing by other sites.
    response.headers["Content-Security-Policy"] = (
        "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["Cache-Control"] = "no-store"
