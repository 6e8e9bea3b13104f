"""The consoles every command prints through, and how a library error ends the command.

Results go to stdout (``out``), problems to stderr (``err``); neither highlights or wraps text,
so paths and ids stay copyable. ``wide`` is for tables, which must not be cut to 80 columns when
piped into logs, CI or grep.
"""

from __future__ import annotations

import sys
from typing import NoReturn

from rich.console import Console

from drillbook.errors import BadInput, DrillbookError

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)
wide = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 200)


def fail(exc: DrillbookError) -> NoReturn:
    """Print the error (every problem of a BadInput, one per line) and exit with its code."""
    if isinstance(exc, BadInput) and exc.problems:
        for problem in exc.problems:
            err.print(str(problem), markup=False)
        err.print(f"{len(exc.problems)} problem(s); nothing was run.", markup=False)
    else:
        err.print(f"drillbook: {exc}", markup=False)
    sys.exit(exc.exit_code)
