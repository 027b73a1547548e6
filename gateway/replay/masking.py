"""Failure messages are shown to people and sent over the API: mask identity numbers.

The same rule as the logs (gateway.logs.redact): a national service's error text may
quote a citizen's identity number back, and it must not reach a screen or a report.
"""

from __future__ import annotations

__all__ = ["masked"]

from gateway.logs import redact


def masked(text: str | None) -> str:
    """`text` with 9- and 12-digit identity numbers replaced by ***."""
    if not text:
        return ""
    return str(redact(None, "", {"text": text})["text"])
