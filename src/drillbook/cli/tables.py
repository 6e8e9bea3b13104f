"""Tables on stdout: rich boxes on a terminal; plain aligned columns, never cut, everywhere else.

``drillbook list | grep`` , a cron mail or a CI log must show every name whole: rich fits a
table to a width and wraps or truncates what does not fit, so off a terminal the table is plain
text, columns padded with spaces to their widest cell, one row a line.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console
from rich.table import Table
from rich.text import Text

from drillbook.cli.console import out, terminal_safe

GAP = "  "


def print_table(columns: Sequence[str], rows: Sequence[Sequence[str]], console: Console | None = None) -> None:
    """``rows`` under ``columns``; every cell is made terminal-safe (names come from drill files)."""
    console = console or out
    cells = [[terminal_safe(cell) for cell in row] for row in rows]
    if console.is_terminal:
        table = Table()
        for column in columns:
            table.add_column(column)
        for row in cells:
            table.add_row(*(Text(cell) for cell in row))  # a cell is text, never markup
        console.print(table)
        return
    console.file.write("".join(line + "\n" for line in plain_lines(columns, cells)))
    console.file.flush()


def plain_lines(columns: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """The header and each row, columns as wide as their widest cell; no trailing spaces."""
    widths = [max(len(str(c)) for c in column) for column in zip(columns, *rows, strict=True)]
    return [GAP.join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
            for row in (columns, *rows)]
