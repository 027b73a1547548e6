"""Every failure of an admin request becomes `{"error_code": <status>, "message": <one line>}`."""

from __future__ import annotations

from aiohttp import web

from gateway.admin.models import ErrorResponse
from gateway.admin.operations import Handler, json_response
from gateway.errors import (
    ConfigError,
    ConnectorExistsError,
    ConnectorNotFoundError,
    EmptySelectionError,
    GatewayError,
    IndexStoreError,
    KafkaUnavailableError,
    ReplayBusyError,
    ReplayError,
    TooManyRequestsError,
    UnknownPluginError,
    UnknownTransactionError,
    WrongRoleError,
)
from gateway.logs import get_logger, redact_text

__all__ = ["error_middleware", "status_for"]

_log = get_logger(__name__)

_STATUS: tuple[tuple[type[GatewayError], int], ...] = (
    (ConfigError, 400),
    (ConnectorNotFoundError, 404),
    (UnknownPluginError, 404),
    (ConnectorExistsError, 409),
    (WrongRoleError, 409),
    (UnknownTransactionError, 404),
    (ReplayBusyError, 409),
    (EmptySelectionError, 422),
    (ReplayError, 400),
    (KafkaUnavailableError, 503),
    (IndexStoreError, 503),
    (TooManyRequestsError, 429),
)


def status_for(error: GatewayError) -> int:
    """The HTTP status for a gateway error (500 for anything unexpected)."""
    for cls, status in _STATUS:
        if isinstance(error, cls):
            return status
    return 500


def error_response(status: int, message: str) -> web.Response:
    """The API's error body."""
    # Error messages quote what was sent or read (a value, a source's answer): redacted.
    one_line = redact_text(" ".join(message.split()))
    return json_response(ErrorResponse(error_code=status, message=one_line), status)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Translate exceptions raised by handlers (and the router) into JSON error bodies."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        if exc.status == 404:
            message = f"no such path: {request.path}"
        elif exc.status == 405:
            message = f"method {request.method} is not allowed on {request.path}"
        else:
            message = exc.text or exc.reason
        response = error_response(exc.status, message)
        if "Allow" in exc.headers:
            response.headers["Allow"] = exc.headers["Allow"]
        return response
    except GatewayError as exc:
        status = status_for(exc)
        if status >= 500:
            _log.error("admin request failed", method=request.method, path=request.path,
                       error=exc.message, exc_info=exc)
        response = error_response(status, exc.message)
        if isinstance(exc, TooManyRequestsError):
            response.headers["Retry-After"] = str(exc.retry_after_s)
        return response
    except Exception as exc:  # noqa: BLE001 - the API answers 500 and the traceback is logged
        _log.exception("admin request failed unexpectedly", method=request.method,
                       path=request.path)
        return error_response(500, f"internal error: {type(exc).__name__}: {exc}")
