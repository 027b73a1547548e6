"""The console's door: session cookie -> principal, CSRF on every POST, the role table.

Each console route stands for one admin API operation (routes.py), so it needs the role
that operation needs and is audited under its action, with the signed-in principal as
subject and `console@<address>` as client. The admin API's bearer middleware lets
`/console` through (gateway/admin/security.py); this middleware is its equal here.
"""

from __future__ import annotations

__all__ = ["LANG", "PERMISSION", "VISITOR", "Guard", "Visitor"]

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import quote

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from gateway.admin.errors import status_for
from gateway.audit.event import AuditEvent, Result
from gateway.auth import Permission, Principal, Role, allows, permission_for
from gateway.console.csrf import CSRF_FIELD, csrf_problem
from gateway.console.i18n import LANG_COOKIE, choose_language
from gateway.console.render import page, see_other
from gateway.console.session import COOKIE, Session, SessionSealer
from gateway.console.sources import ConsoleSources
from gateway.errors import (
    ForbiddenError,
    GatewayError,
    TooManyRequestsError,
    UnauthenticatedError,
)
from gateway.logs import get_logger, redact_text
from gateway.metrics import AUTH_REFUSALS

_log = get_logger(__name__)

Operation = tuple[str, str]
"""(method, admin API path template) as in the role table."""
_SIGNED_IN = Permission(Role.VIEWER)


@dataclass(frozen=True, slots=True)
class Visitor:
    """The signed-in person of one request."""

    principal: Principal
    session: Session

    def may(self, role: Role) -> bool:
        """Whether the principal holds `role` (or one that includes it)."""
        return allows(self.principal.roles, role)

    @property
    def may_trace(self) -> bool:
        """Whether search and transaction pages are open to this principal (role table)."""
        return self.may(permission_for("GET", "/transactions").role)

    @property
    def roles(self) -> str:
        """The roles, for the page header."""
        return ", ".join(sorted(r.value for r in self.principal.roles))


VISITOR = web.RequestKey("lgsp_console_visitor", Visitor)
LANG = web.RequestKey("lgsp_console_lang", str)
PERMISSION = web.RequestKey("lgsp_console_permission", Permission)


class Guard:
    """Sign-in state, CSRF and role checks for every console request."""

    def __init__(self, sources: ConsoleSources, sealer: SessionSealer, *, prefix: str,
                 stands_for: Mapping[Operation, Operation | None], public: frozenset[str]) -> None:
        self.sources = sources
        self.sealer = sealer
        self.prefix = prefix
        self._stands_for = stands_for
        self._public = public

    # -- the middleware -----------------------------------------------------------------

    def middleware(self) -> Middleware:
        """The aiohttp middleware of the console sub-application."""

        @web.middleware
        async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
            lang = choose_language(request.query, request.cookies,
                                   request.headers.get("Accept-Language"))
            request[LANG] = lang
            try:
                response = await self._guarded(request, handler)
            except web.HTTPException as exc:
                if exc.status < 400:
                    raise
                response = self.error(request, exc.status, "error.not_found"
                                      if exc.status in (404, 405) else "error.invalid",
                                      message=exc.reason)
            except GatewayError as exc:
                status = status_for(exc)
                if status >= 500:
                    _log.error("console request failed", path=request.path,
                               error=exc.message)
                key = {400: "error.invalid", 403: "error.forbidden", 404: "error.invalid",
                       409: "error.invalid", 422: "error.invalid"}.get(status,
                                                                       "error.unavailable")
                response = self.error(request, status, key, message=exc.message)
                if isinstance(exc, TooManyRequestsError):
                    response.headers["Retry-After"] = str(exc.retry_after_s)
            except Exception as exc:  # noqa: BLE001 - a page, not a traceback; logged with it
                _log.exception("console request failed unexpectedly", path=request.path)
                response = self.error(request, 500, "error.unavailable",
                                      message=f"internal error: {type(exc).__name__}")
            if request.query.get("lang") == lang:
                response.set_cookie(LANG_COOKIE, lang, max_age=365 * 24 * 3600,
                                    path=self.prefix, samesite="Strict", httponly=True,
                                    secure=self.secure(request))
            return response

        return guard

    async def _guarded(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        route = request.match_info.route
        resource = route.resource
        canonical = resource.canonical if resource is not None else request.path
        if canonical in self._public or canonical.startswith(f"{self.prefix}/static"):
            return await handler(request)
        raw = request.cookies.get(COOKIE)
        session = self.sealer.open(raw)
        if session is None:
            return self.to_sign_in(request, ended=raw is not None)
        try:
            principal = await self.sources.authenticator.authenticate(
                f"Bearer {session.token}")
        except UnauthenticatedError:
            AUTH_REFUSALS.labels(status="401").inc()
            return self.to_sign_in(request, ended=True)
        request[VISITOR] = Visitor(principal, session)
        if request.method == "POST":
            form = await request.post()
            sent = form.get(CSRF_FIELD)
            problem = csrf_problem(
                expected=session.csrf, sent=sent if isinstance(sent, str) else None,
                origin=request.headers.get("Origin"), referer=request.headers.get("Referer"),
                scheme=request.scheme, host=request.host)
            if problem is not None:
                _log.warning("console POST refused", path=request.path, reason=problem,
                             subject=principal.subject)
                return self.error(request, 403, "error.csrf")
        if request.match_info.http_exception is not None:
            raise request.match_info.http_exception
        key = (request.method, canonical)
        if key in self._stands_for:
            operation = self._stands_for[key]
            permission = permission_for(*operation) if operation else _SIGNED_IN
        else:  # a route nobody mapped: admin only, as in the API
            permission = permission_for(request.method, canonical)
        request[PERMISSION] = permission
        try:
            self.sources.authenticator.authorize(principal, permission)
        except ForbiddenError as exc:
            AUTH_REFUSALS.labels(status="403").inc()
            if permission.action is not None:
                await self.record(request, permission, target=self.target(request, permission),
                                  result=Result.DENIED, status=403, detail=exc.message)
            return self.error(request, 403, "error.role", role=permission.role.value)
        return await handler(request)

    # -- what handlers use ----------------------------------------------------------------

    def secure(self, request: web.Request) -> bool:
        """Whether cookies get the Secure flag (setting, else: the request came over TLS)."""
        configured = self.sources.settings.console.secure_cookie
        return request.secure if configured is None else configured

    def to_sign_in(self, request: web.Request, *, ended: bool) -> web.StreamResponse:
        """Back to the sign-in page (remembering where to go after), session cleared."""
        target = request.path_qs if request.method == "GET" else f"{self.prefix}/"
        location = f"{self.prefix}/sign-in?next={quote(target, safe='')}"
        if ended:
            location += "&ended=1"
        response = see_other(location)
        if request.cookies.get(COOKIE) is not None:
            response.del_cookie(COOKIE, path=self.prefix)
        return response

    def error(self, request: web.Request, status: int, key: str, **values: object
              ) -> web.Response:
        """The error page, in the visitor's language (messages redacted)."""
        safe = {k: redact_text(str(v)) for k, v in values.items()}
        return page(request, "error.html", lang=request.get(LANG, "vi"), status=status,
                    visitor=request.get(VISITOR), csrf=self.csrf_of(request),
                    prefix=self.prefix, key=key, values=safe)

    @staticmethod
    def csrf_of(request: web.Request) -> str:
        """The synchronizer token to put into this page's forms ('' when signed out)."""
        visitor = request.get(VISITOR)
        return visitor.session.csrf if visitor is not None else ""

    @staticmethod
    def target(request: web.Request, permission: Permission) -> str:
        """The audit target named by the role table's template and the path."""
        return permission.target.format_map(dict(request.match_info))

    async def record(self, request: web.Request, permission: Permission, *, target: str,
                     result: Result, status: int, detail: str | None = None) -> None:
        """One change (or refusal) on the signed audit trail, by the signed-in principal."""
        audit = self.sources.audit
        visitor = request.get(VISITOR)
        if audit is None or permission.action is None or visitor is None:
            return
        event = AuditEvent(subject=visitor.principal.subject, action=permission.action,
                           target=target, client=f"console@{request.remote or 'unknown'}",
                           result=result, status=status, detail=detail)
        try:
            await audit(event)
        except GatewayError as exc:
            _log.error("change not audited", action=event.action, target=event.target,
                       subject=event.subject, error=exc.message)
