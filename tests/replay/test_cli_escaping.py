"""Text the CLI did not write itself is printed as typed: rich markup in an operator's
name does not break the history table, control characters are shown, not obeyed."""

from __future__ import annotations

import pytest
from rich.console import Console

from gateway.cli._text import cell, printable
from tests.replay.rig import Rig

pytestmark = pytest.mark.integration

OPERATOR = "[/bold][red]x[/red] \\[ok]"


async def test_an_operator_written_as_markup_prints_as_typed(rig: Rig) -> None:
    await rig.unroutable(1)
    status, preview = await rig.api("POST", "/replays", {"operator": OPERATOR,
                                                         "dry_run": True})
    assert status == 200, preview
    table = await rig.lgsp("replay", "history")
    assert table.code == 0, table.err
    assert OPERATOR in table.out, table.out
    assert "DRY_RUN" in table.out


def test_cells_and_lines_show_control_characters_escaped() -> None:
    console = Console(width=200, color_system=None, record=True)
    console.print(cell("[/bold]\x1b[31mred\x07"))
    shown = console.export_text()
    assert shown.strip() == "[/bold]\\x1b[31mred\\x07"
    assert printable("tab\tkept, newline\nescaped") == "tab\tkept, newline\\x0aescaped"
