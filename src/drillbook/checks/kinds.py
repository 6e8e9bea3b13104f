"""The one table of check kinds: a spec's ``type`` to the function that runs it.

Adding a kind means a spec model in spec/models.py, a module here, and a line in :data:`KINDS`;
tests/unit/checks/test_kinds.py fails when a spec type has no runner.
"""

from __future__ import annotations

import time
from typing import Any

from drillbook.checks.base import CheckContext, CheckFn, default_name
from drillbook.checks.command import check_command
from drillbook.checks.files import check_files
from drillbook.checks.reading.main import crash_words
from drillbook.checks.services.http import check_http
from drillbook.checks.services.postgres import check_postgres
from drillbook.checks.services.sql import check_sql
from drillbook.checks.services.tcp import check_tcp
from drillbook.checks.sqlite import check_sqlite
from drillbook.drill.record import CheckResult
from drillbook.sandbox.inside import ReaderFailed
from drillbook.sandbox.isolation import IsolationError
from drillbook.status import Status
from drillbook.util.restored import RestoredFileError
from drillbook.util.scrub import scrub

KINDS: dict[str, CheckFn] = {
    "files": check_files,
    "sqlite": check_sqlite,
    "command": check_command,
    "http": check_http,
    "tcp": check_tcp,
    "postgres": check_postgres,
    "sql": check_sql,
}

#: Exceptions whose text drillbook wrote itself, naming paths and reasons, never file content.
OWN_WORDS: tuple[type[Exception], ...] = (IsolationError, RestoredFileError, ReaderFailed)


def run_check(spec: Any, ctx: CheckContext) -> CheckResult:
    """Run one check and time it; whatever goes wrong inside becomes a failed check."""
    fn = KINDS.get(spec.type)
    started = time.monotonic()
    if fn is None:
        return CheckResult(spec.type, default_name(spec), Status.FAILED, f"no runner for {spec.type}")
    try:
        result = fn(spec, ctx)
    except Exception as exc:  # a bug or an environment fault must fail the check, loudly
        result = CheckResult(spec.type, default_name(spec), Status.FAILED,
                             scrub(crash_detail(exc), ctx.secrets))
    result.duration_seconds = round(time.monotonic() - started, 3)
    return result


def crash_detail(exc: Exception) -> str:
    """What a check that raised records: only exceptions drillbook words itself (OWN_WORDS) show
    their text; any other is named by type and place (see reading.main.crash_words)."""
    if isinstance(exc, OWN_WORDS):
        return f"check could not run: {type(exc).__name__}: {exc}"
    return crash_words(exc)
