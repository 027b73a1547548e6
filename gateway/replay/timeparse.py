"""Times as operators type them: ISO-8601, or an age such as `30m`, `2h`, `3d` ago.

A time without a zone is read in the machine's local zone (a provincial operator types
Vietnam time), and every result is an aware datetime in UTC.
"""

from __future__ import annotations

__all__ = ["format_age", "parse_time"]

import re
from datetime import UTC, datetime, timedelta

_AGE = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhdw])(?:\s+ago)?$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}
_HINT = "use ISO-8601 (2026-11-02, 2026-11-02T08:00, 2026-11-02T08:00+07:00) or an age " \
        "like 30m, 2h, 3d"


def parse_time(text: str, now: datetime | None = None) -> datetime:
    """An aware UTC datetime for `text`; ValueError (one line) if it is not a time."""
    value = text.strip()
    now = now or datetime.now(UTC)
    if value.lower() == "now":
        return now
    age = _AGE.match(value.lower())
    if age is not None:
        seconds = float(age.group(1)) * _UNIT_SECONDS[age.group(2)]
        return now - timedelta(seconds=seconds)
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{text!r} is not a time: {_HINT}") from None
    if parsed.tzinfo is None:
        parsed = parsed.astimezone()  # naive: the machine's local zone
    return parsed.astimezone(UTC)


def format_age(seconds: float) -> str:
    """A short human age: 45s, 12m, 3h, 2d."""
    seconds = max(0.0, seconds)
    for unit, size in (("d", 86_400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit}"
    return f"{int(seconds)}s"
