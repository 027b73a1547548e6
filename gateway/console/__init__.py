"""The web console at `/console`: server-rendered pages for provincial IT and operators.

```
routes.py       every console route and the admin API operation it stands for (roles)
guard.py        session cookie -> principal, CSRF on POST, role check, audit
session.py      the Fernet-sealed session cookie and its key file
csrf.py         synchronizer token and Origin checks
i18n.py         Vietnamese and English messages, language choice
render.py       Jinja2 pages (autoescaped), security headers
signin.py       sign in with a token, sign out
overview.py     services' health, connectors (pause/resume/restart), dead letters, lag
search.py       find transactions (the index), one transaction's trace
deadletters.py  dead letters by reason, replay: dry run, confirm, progress, history
gauges.py       the router's gauges of this process (held, circuit, lag)
templates/, static/   HTML, one CSS and one JS file, served by the gateway itself
```
"""

from __future__ import annotations

__all__ = ["CONSOLE_PREFIX", "ConsoleSources", "build_console_app", "install_console"]

import asyncio
from pathlib import Path

from aiohttp import web

from gateway.console.deadletters import deadletter_handlers
from gateway.console.guard import Guard
from gateway.console.overview import overview_handlers
from gateway.console.routes import CONSOLE_PREFIX, PUBLIC, ROUTES
from gateway.console.search import search_handlers
from gateway.console.session import SessionSealer, load_session_key
from gateway.console.signin import signin_handlers
from gateway.console.sources import ConsoleSources

_STATIC = Path(__file__).parent / "static"


def build_console_app(sources: ConsoleSources, key: bytes) -> web.Application:
    """The console as an aiohttp sub-application (mounted at CONSOLE_PREFIX)."""
    sealer = SessionSealer(key, sources.settings.console.session_ttl_s)
    guard = Guard(sources, sealer, prefix=CONSOLE_PREFIX, public=PUBLIC,
                  stands_for={(r.method, CONSOLE_PREFIX + r.path): r.stands_for
                              for r in ROUTES})
    handlers = {**signin_handlers(guard), **overview_handlers(guard),
                **search_handlers(guard), **deadletter_handlers(guard)}
    app = web.Application(middlewares=[guard.middleware()])
    for route in ROUTES:
        handler = handlers[route.handler]
        app.router.add_route(route.method, route.path,
                             sources.reads.limited(handler) if route.scans else handler)
    app.router.add_static("/static", _STATIC, append_version=True)
    return app


async def install_console(app: web.Application, sources: ConsoleSources) -> None:
    """Mount the console on the admin app (before it starts); `/console` redirects."""
    settings = sources.settings
    key_file = settings.console.session_key_file or \
        settings.state_dir / "console" / "session.key"
    key = await asyncio.to_thread(load_session_key, key_file)

    async def to_console(_request: web.Request) -> web.StreamResponse:
        raise web.HTTPPermanentRedirect(f"{CONSOLE_PREFIX}/")

    # Before the sub-application, which would otherwise answer the bare prefix with 404.
    app.router.add_get(CONSOLE_PREFIX, to_console)
    app.add_subapp(CONSOLE_PREFIX, build_console_app(sources, key))
