"""structlog configured once: JSON lines by default, a console renderer on a terminal.

Secrets and citizen identity numbers never reach a log line: the redaction processor
masks sensitive keys wherever they appear and any 9- or 12-digit identity number
embedded in a string value.
"""

from __future__ import annotations

__all__ = ["SENSITIVE_KEYS", "configure_logging", "get_logger", "redact", "redact_text"]

import logging
import re
import sys
from collections.abc import Mapping, MutableMapping
from typing import Any, Literal

import orjson
import structlog

# Field names whose values are masked wherever they appear. Every Avro field marked
# `"pii": true` in schemas/avro must be listed here (a test enforces it).
SENSITIVE_KEYS = frozenset(
    {
        "authorization",
        "client_secret",
        "password",
        "secret",
        "token",
        "access_token",
        "webhook_secret",
        "citizen_id",
        "identity_number",
        "applicant_identity_number",
        "phone",
    }
)
_MASK = "***"
# CCCD (12 digits) and the older CMND (9 digits), not part of a longer number.
_IDENTITY_NUMBER = re.compile(r"(?<!\d)(\d{12}|\d{9})(?!\d)")


def redact_text(text: str) -> str:
    """`text` with citizen identity numbers masked: for reasons and messages shown outside
    the log pipeline (reason files, error bodies, connector traces)."""
    return _IDENTITY_NUMBER.sub(_MASK, text)


def _mask_value(value: Any) -> Any:
    if isinstance(value, str):
        return _IDENTITY_NUMBER.sub(_MASK, value)
    if isinstance(value, Mapping):
        return {k: (_MASK if str(k).lower() in SENSITIVE_KEYS else _mask_value(v))
                for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_mask_value(v) for v in value]
    return value


def redact(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: mask secrets and citizen identity numbers."""
    for key in list(event_dict):
        if key.lower() in SENSITIVE_KEYS:
            event_dict[key] = _MASK
        else:
            event_dict[key] = _mask_value(event_dict[key])
    return event_dict


def _orjson_dumps(obj: Any, default: Any = None) -> str:
    return orjson.dumps(obj, default=default).decode()


def configure_logging(
    fmt: Literal["auto", "json", "console"] = "auto", level: str = "INFO"
) -> None:
    """Configure structlog (and stdlib logging it shares a stream with) once per process."""
    use_console = fmt == "console" or (fmt == "auto" and sys.stderr.isatty())
    renderer: Any = (
        structlog.dev.ConsoleRenderer(colors=True)
        if use_console
        else structlog.processors.JSONRenderer(serializer=_orjson_dumps)
    )
    numeric_level = logging.getLevelName(level)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            redact,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric_level),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
    # Libraries (aiokafka, aiohttp) log through stdlib logging; keep them quiet but visible.
    logging.basicConfig(level=max(numeric_level, logging.WARNING), stream=sys.stderr,
                        format="%(levelname)s %(name)s %(message)s")


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    """A logger for one module; bind transaction_id/correlation_id with bound_contextvars."""
    return structlog.get_logger(name)  # type: ignore[no-any-return]
