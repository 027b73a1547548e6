"""Text from the gateway, Kafka or a provincial system, made safe to print.

Names, operators and error messages are data, not markup: rich would read `[/bold]` in an
operator's name as a closing tag (and refuse the table), and a terminal would obey an
escape sequence hidden in an error message. Everything the CLI prints that it did not
write itself goes through here.
"""

from __future__ import annotations

__all__ = ["cell", "printable"]

import re

from rich.text import Text

# C0 controls except tab, DEL and the C1 block (ESC, CSI... are how terminals are steered).
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f]")


def printable(text: str) -> str:
    """`text` with control characters shown as `\\xNN` escapes."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def cell(text: str) -> Text:
    """A rich table cell that shows `text` exactly as written (no markup, no controls)."""
    return Text(printable(text))
