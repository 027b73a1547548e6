"""structlog configured once: JSON lines by default, a console renderer on a terminal.

Secrets and personal data never reach a log line. The redaction processor masks:

- the value of every sensitive key wherever it appears, keys compared per dotted or
  dashed segment (`webhook.secret`, `api.token`, `sasl-password` are all sensitive), and
  the value of every Avro field marked `"pii": true` (the registry registers them);
- inside any string: citizen identity numbers (CCCD 12 digits, CMND 9 digits, also
  written with spaces or dashes), Vietnamese phone numbers (mobile and landline, with
  +84/0084/0 and spaces, dots or dashes), bearer tokens and `secret=...`-style pairs.

Library records (aiohttp, aiokafka, asyncio) are routed through the same pipeline, so they
are redacted and rendered like the gateway's own. `redact_text` applies the string rules to
text shown outside the log pipeline: connector status traces, failed/*.reason.txt, API
error bodies.
"""

from __future__ import annotations

__all__ = ["SENSITIVE_KEYS", "configure_logging", "get_logger", "mark_pii", "redact",
           "redact_text", "reset_logging"]

import json
import logging
import re
import sys
from collections.abc import Iterable, Mapping, MutableMapping
from typing import Any, Literal

import orjson
import structlog

# Field names whose values are masked wherever they appear. Every Avro field marked
# `"pii": true` in schemas/avro must be listed here (a test enforces it); the registry adds
# them at load time too, so a plugin's own schemas are covered without an edit here.
SENSITIVE_KEYS = frozenset(
    {
        "authorization",
        "client_secret",
        "password",
        "passwd",
        "secret",
        "token",
        "access_token",
        "refresh_token",
        "api_key",
        "apikey",
        "x_api_key",
        "private_key",
        "webhook_secret",
        "citizen_id",
        "identity_number",
        "applicant_identity_number",
        "phone",
    }
)
# Segments that make a key sensitive wherever they end it ("ndxp_client_secret",
# "sasl.password", "api.token").
_SENSITIVE_ENDINGS = ("secret", "password", "passwd", "token", "api_key", "apikey")
_MASK = "***"
_pii: set[str] = set()

_D = r"\d"
_SEP = r"[ -]?"
# CCCD (12 digits) and the older CMND (9 digits), optionally grouped with spaces or dashes,
# not part of a longer number (grouped the same way).
_IDENTITY_NUMBER = re.compile(
    rf"(?<!\d)(?<!\d[ -])(?:{_D}(?:{_SEP}{_D}){{11}}|{_D}(?:{_SEP}{_D}){{8}})(?![ -]?\d)")
# Mobile (0 + 3/5/7/8/9 + 8 digits) and landline (02 + 10 digits in total... 11 with the
# area code), with +84 or 0084 instead of the leading 0; spaces, dots or dashes between.
_PHONE = re.compile(
    r"(?<![\d+])(?<!\d[ .-])(?:\+84|0084|0)[ .-]?(?:[35789](?:[ .-]?\d){8}|2(?:[ .-]?\d){9})"
    r"(?![ .-]?\d)")
# Credentials written into text: "Bearer abc.def", "token=abc", "password: abc".
_CREDENTIAL = re.compile(
    r"(?i)(\bbearer\s+)[A-Za-z0-9._~+/=-]+"
    r"|(\b(?:[a-z0-9_.-]*(?:secret|password|passwd|token|api[_-]?key))\b[\"']?\s*[:=]\s*[\"']?)"
    r"[^\s\"',;&]+")


def mark_pii(names: Iterable[str]) -> None:
    """Also mask the values of these field names (Avro fields marked `pii`)."""
    _pii.update(n.lower() for n in names)


def _sensitive(key: Any) -> bool:
    text = str(key).lower().replace("-", "_")
    if text in SENSITIVE_KEYS or text in _pii:
        return True
    segments = text.split(".")
    return any(s in SENSITIVE_KEYS or s in _pii or s.endswith(_SENSITIVE_ENDINGS)
               for s in segments)


def _credential(match: re.Match[str]) -> str:
    return (match.group(1) or match.group(2)) + _MASK


def redact_text(text: str) -> str:
    """`text` with identity numbers, phone numbers and written-out credentials masked."""
    text = _CREDENTIAL.sub(_credential, text)
    text = _IDENTITY_NUMBER.sub(_MASK, text)
    return _PHONE.sub(_MASK, text)


def _mask_value(value: Any) -> Any:
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, Mapping):
        return {k: (_MASK if _sensitive(k) else _mask_value(v)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_mask_value(v) for v in value]
    if isinstance(value, BaseException):
        return redact_text(f"{type(value).__name__}: {value}")
    return value


def redact(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: mask secrets and personal data."""
    for key in list(event_dict):
        if _sensitive(key):
            event_dict[key] = _MASK
        else:
            event_dict[key] = _mask_value(event_dict[key])
    return event_dict


def _orjson_dumps(obj: Any, default: Any = None) -> str:
    try:
        return orjson.dumps(obj, default=default).decode()
    except TypeError:
        # A log call must never raise: text orjson refuses (a file name that is not UTF-8,
        # read with surrogate escapes; an int beyond 64 bits) is written by the stdlib
        # encoder, which escapes what it cannot encode.
        return json.dumps(obj, default=default or str, ensure_ascii=True)


class _LibraryHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """The one stderr handler of stdlib logging, rendering through structlog."""


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
    timestamper = structlog.processors.TimeStamper(fmt="iso", utc=True)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            timestamper,
            structlog.processors.format_exc_info,
            redact,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric_level),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
    # Libraries (aiokafka, aiohttp) log through stdlib logging: the same redaction and
    # renderer, quiet (WARNING and up) but visible.
    handler = _LibraryHandler(sys.stderr)
    handler.setFormatter(structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[
            structlog.stdlib.add_log_level,
            structlog.stdlib.add_logger_name,
            timestamper,
            structlog.processors.format_exc_info,
            redact,
        ],
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
    ))
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _LibraryHandler)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(max(numeric_level, logging.WARNING))


def reset_logging() -> None:
    """Undo `configure_logging` (structlog defaults, no stdlib handler of ours): for tests
    that configure logging into a buffer."""
    structlog.reset_defaults()
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _LibraryHandler)]:
        root.removeHandler(old)


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    """A logger for one module; bind transaction_id/correlation_id with bound_contextvars."""
    return structlog.get_logger(name)  # type: ignore[no-any-return]
