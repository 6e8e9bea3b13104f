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

from drillbook.errors import BadInput, DrillbookError, SpecProblem
from drillbook.util.logformat import LogFormatter, structured
from drillbook.util.plain import strip_controls

__all__ = ["LogFormatter", "err", "fail", "out", "problem_fields", "tell", "terminal_safe", "wide"]
log = logging.getLogger("drillbook.cli")

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


def tell(text: str, level: int = logging.WARNING, **fields: object) -> None:
    """A line for the operator on stderr: a log record (with ``fields``) when stderr is for
    programs (``--log-format logfmt|json``), else the text as it always was."""
    if structured():
        log.log(level, text, extra=fields)
    else:
        err.print(terminal_safe(text), markup=False)


def problem_fields(problem: SpecProblem) -> dict[str, object]:
    """Where a spec problem is: file, line, column (when the loader knows it) and field path."""
    return {"file": str(problem.file), "line": problem.line, "column": getattr(problem, "column", None),
            "field": problem.field or None}


def fail(exc: DrillbookError) -> NoReturn:
    """Print the error (every problem of a BadInput, one per line) and exit with its code."""
    if structured():
        _log_failure(exc)
    elif isinstance(exc, BadInput) and exc.problems:
        for problem in exc.problems:
            err.print(terminal_safe(problem, one_line=False), markup=False)
        err.print(f"{len(exc.problems)} problem(s); nothing was run.", markup=False)
    else:
        err.print(f"drillbook: {terminal_safe(exc, one_line=False)}", markup=False)
    sys.exit(exc.exit_code)


def _log_failure(exc: DrillbookError) -> None:
    """The error as records: one per problem, located by fields, then the verdict."""
    problems = exc.problems if isinstance(exc, BadInput) else []
    for problem in problems:
        log.error(problem.message, extra=problem_fields(problem))
    text = f"{len(problems)} problem(s); nothing was run." if problems else str(exc)
    log.error(text, extra={"exit_code": exc.exit_code})
