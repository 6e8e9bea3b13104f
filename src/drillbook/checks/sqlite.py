"""``sqlite``: the restored database opens read-only, passes integrity_check, answers queries.

The database is opened and guarded by :mod:`drillbook.checks.sqlite_readonly`: no query can
attach, write or create a file, and each has a time limit.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from drillbook.checks.base import CheckContext, default_name
from drillbook.checks.expectations import first_failure, parse_expectation, queries_met, show_value
from drillbook.checks.sqlite_readonly import ReadOnlyDatabase, Refused
from drillbook.drill.record import CheckResult
from drillbook.spec.models import SqliteCheck
from drillbook.status import Status
from drillbook.util.restored import RestoredFileError, RestoredPath

QUERY_TIME_LIMIT = 300.0
INTEGRITY_TIME_LIMIT = 3600.0  # reads every page: a large database takes a while


def check_sqlite(spec: SqliteCheck, ctx: CheckContext) -> CheckResult:
    name = default_name(spec)
    try:
        db = ReadOnlyDatabase(RestoredPath(ctx.restore_root, spec.path))
    except RestoredFileError as exc:
        return CheckResult("sqlite", name, Status.FAILED, str(exc))
    except sqlite3.Error as exc:
        return CheckResult("sqlite", name, Status.FAILED, f"cannot open {spec.path}: {exc}")
    try:
        return _run_queries(spec, name, db)
    finally:
        db.close()


def _run_queries(spec: SqliteCheck, name: str, db: ReadOnlyDatabase) -> CheckResult:
    results: list[dict[str, Any]] = []
    try:
        integrity = db.first_value("PRAGMA integrity_check", INTEGRITY_TIME_LIMIT)
    except (sqlite3.Error, Refused) as exc:
        return CheckResult("sqlite", name, Status.FAILED, f"not a readable SQLite database: {exc}")
    results.append({"sql": "PRAGMA integrity_check", "expect": "ok", "value": integrity,
                    "passed": integrity == "ok"})
    for query in spec.queries:
        expectation = parse_expectation(query.expect)
        try:
            value = db.first_value(query.sql, QUERY_TIME_LIMIT)
            results.append({"sql": query.sql, "expect": query.expect, "value": show_value(value),
                            "passed": expectation.check(value)})
        except (sqlite3.Error, Refused) as exc:
            results.append({"sql": query.sql, "expect": query.expect, "error": str(exc),
                            "passed": False})
    failure = first_failure(results)
    if failure:
        return CheckResult("sqlite", name, Status.FAILED, failure, data={"queries": results})
    summary = ", ".join(f"{r['sql']} = {r['value']}" for r in results[1:4])
    detail = f"integrity ok; {queries_met(len(results) - 1)}" + (f" ({summary})" if summary else "")
    return CheckResult("sqlite", name, Status.PASSED, detail, data={"queries": results})
