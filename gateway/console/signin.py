"""Signing in with a token (local or the identity provider's JWT) and signing out."""

from __future__ import annotations

__all__ = ["signin_handlers"]

from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

from aiohttp import web

from gateway.console.csrf import same_origin
from gateway.console.guard import LANG, Guard
from gateway.console.render import page, see_other
from gateway.console.session import COOKIE, Session
from gateway.errors import GatewayError, UnauthenticatedError
from gateway.logs import get_logger
from gateway.metrics import AUTH_REFUSALS

_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_log = get_logger(__name__)
_MAX_TOKEN = 8192


def signin_handlers(guard: Guard) -> dict[str, _Handler]:
    """The sign-in form, its POST, and sign-out."""
    sources = guard.sources

    def next_path(value: str | None) -> str:
        # Only a path inside the console: never an open redirect to another site.
        home = f"{guard.prefix}/"
        if not value:
            return home
        parts = urlsplit(value)
        if parts.scheme or parts.netloc or not parts.path.startswith(home) \
                or value.startswith("//") or "\\" in value:
            return home
        return value

    def form(request: web.Request, *, status: int = 200, problem: str | None = None,
             message: str = "") -> web.Response:
        q = request.query
        notice = "signin.expired" if q.get("ended") else "signin.signed_out" \
            if q.get("out") else None
        return page(request, "signin.html", lang=request[LANG], status=status,
                    visitor=None, csrf="", prefix=guard.prefix,
                    next=next_path(q.get("next")), notice=notice, problem=problem,
                    message=message, oidc=sources.authenticator.oidc is not None,
                    idp_url=sources.settings.console.identity_provider_url,
                    local_tokens=sources.authenticator.store is not None)

    async def show(request: web.Request) -> web.StreamResponse:
        return form(request)

    async def sign_in(request: web.Request) -> web.StreamResponse:
        # No session yet, so no synchronizer token: the origin must be this console's
        # own (a login CSRF would sign a person in as someone else).
        claimed = request.headers.get("Origin") or request.headers.get("Referer")
        if not claimed or not same_origin(claimed, request.scheme, request.host):
            return guard.error(request, 403, "error.csrf")
        data = await request.post()
        token = data.get("token")
        target = next_path(data.get("next") if isinstance(data.get("next"), str)
                           else None)  # type: ignore[arg-type]
        if not isinstance(token, str) or not token.strip() or len(token) > _MAX_TOKEN:
            return form(request, status=401, problem="signin.failed")
        token = token.strip()
        try:
            principal = await sources.authenticator.authenticate(f"Bearer {token}")
        except UnauthenticatedError:
            AUTH_REFUSALS.labels(status="401").inc()
            return form(request, status=401, problem="signin.failed")
        except GatewayError as exc:  # fail closed: the token store or the IdP is away
            return form(request, status=503, problem="signin.unavailable",
                        message=exc.message)
        _log.info("console sign-in", subject=principal.subject,
                  client=request.remote or "unknown")
        response = see_other(target)
        response.set_cookie(COOKIE, guard.sealer.seal(Session.start(token)),
                            max_age=guard.sealer.ttl_s, path=guard.prefix, httponly=True,
                            samesite="Strict", secure=guard.secure(request))
        return response

    async def sign_out(request: web.Request) -> web.StreamResponse:
        response = see_other(f"{guard.prefix}/sign-in?out=1")
        response.del_cookie(COOKIE, path=guard.prefix)
        return response

    return {"sign_in_form": show, "sign_in": sign_in, "sign_out": sign_out}
