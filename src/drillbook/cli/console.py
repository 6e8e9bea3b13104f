"""The consoles every command prints through, and how a library error ends the command.

Results go to stdout (``out``), problems to stderr (``err``); neither highlights or wraps text,
so paths and ids stay copyable. ``wide`` is for tables, which must not be cut to 80 columns when
piped into logs, CI or grep.

Text that comes from a run (check output, restored file names, a drill file's names) is hostile:
it is printed with markup off, after :func:`terminal_safe` took out what a terminal would obey.
"""

from __future__ import annotations

import logging
import sys
from typing import NoReturn

from rich.console import Console

from drillbook.errors import BadInput, DrillbookError
from drillbook.util.plain import strip_controls

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)
wide = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 200)


def terminal_safe(text: object, *, one_line: bool = True) -> str:
    """``text`` as it may be shown on a terminal: escape sequences and control characters removed
    (:func:`~drillbook.util.plain.strip_controls`).

    A restored program's output could otherwise clear the screen, retitle the window, or rewrite
    a line (a carriage return and a fake "passed"). ``one_line`` turns newlines and tabs into spaces.
    """
    plain = strip_controls(str(text))
    return plain.replace("\n", " ").replace("\t", " ") if one_line else plain


class LogFormatter(logging.Formatter):
    """Log lines quote paths, names and errors a restore or a drill file chose: filtered like
    every other terminal line (a traceback keeps its lines)."""

    def format(self, record: logging.LogRecord) -> str:
        return strip_controls(super().format(record))


def fail(exc: DrillbookError) -> NoReturn:
    """Print the error (every problem of a BadInput, one per line) and exit with its code."""
    if isinstance(exc, BadInput) and exc.problems:
        for problem in exc.problems:
            err.print(terminal_safe(problem, one_line=False), markup=False)
        err.print(f"{len(exc.problems)} problem(s); nothing was run.", markup=False)
    else:
        err.print(f"drillbook: {terminal_safe(exc, one_line=False)}", markup=False)
    sys.exit(exc.exit_code)
