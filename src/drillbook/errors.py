"""Errors that cross module boundaries, each mapped to one exit code by the CLI.

Exit codes: 0 passed, 1 drill failed, 2 bad input, 3 drillbook could not run.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class SpecProblem:
    """One problem in one spec file, located so a person (or an editor) can jump to it.

    ``line`` and ``column`` are 1-based, as editors count; ``column`` is None where only the line
    is known.
    """

    file: Path
    line: int | None
    field: str
    message: str
    column: int | None = None

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else f"{self.file}"
        if self.line and self.column:
            where += f":{self.column}"
        field = f" {self.field}:" if self.field else ""
        return f"{where}:{field} {self.message}"


class DrillbookError(Exception):
    """Base class; ``exit_code`` tells the CLI how to end."""

    exit_code = 3


class BadInput(DrillbookError):
    """Spec errors, unknown names, bad arguments: nothing was run, no record written."""

    exit_code = 2

    def __init__(self, message: str, problems: list[SpecProblem] | None = None):
        super().__init__(message)
        self.problems = problems or []


class PasswordError(Exception):
    """A repository password could not be read; the message never contains the secret.

    Raised by the secret stores (environment, file, AWS): the engine fails the drill with it.
    """


class CannotRun(DrillbookError):
    """drillbook itself cannot work here (restic missing, reports not writable)."""

    exit_code = 3
