"""``sqlite``: the restored database opens read-only, passes integrity_check, answers queries."""

from __future__ import annotations

import sqlite3
from typing import Any

from drillbook.checks.base import CheckContext, default_name, outside_restore
from drillbook.checks.expectations import first_failure, parse_expectation, queries_met, show_value
from drillbook.drill.record import CheckResult
from drillbook.spec.models import SqliteCheck
from drillbook.status import Status


def check_sqlite(spec: SqliteCheck, ctx: CheckContext) -> CheckResult:
    name = default_name(spec)
    path = ctx.restore_root / spec.path
    if escape := outside_restore(ctx.restore_root, path):
        return CheckResult("sqlite", name, Status.FAILED, escape)
    if not path.is_file():
        return CheckResult("sqlite", name, Status.FAILED, f"{spec.path} is not in the restore")
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro&immutable=1", uri=True)
    except sqlite3.Error as exc:
        return CheckResult("sqlite", name, Status.FAILED, f"cannot open {spec.path}: {exc}")
    try:
        return _run_queries(spec, name, conn)
    finally:
        conn.close()


def _run_queries(spec: SqliteCheck, name: str, conn: sqlite3.Connection) -> CheckResult:
    results: list[dict[str, Any]] = []
    try:
        integrity = conn.execute("PRAGMA integrity_check").fetchone()[0]
    except sqlite3.Error as exc:
        return CheckResult("sqlite", name, Status.FAILED, f"not a readable SQLite database: {exc}")
    results.append({"sql": "PRAGMA integrity_check", "expect": "ok", "value": integrity,
                    "passed": integrity == "ok"})
    for query in spec.queries:
        expectation = parse_expectation(query.expect)
        try:
            row = conn.execute(query.sql).fetchone()
            value = row[0] if row else None
            passed = expectation.check(value)
            results.append({"sql": query.sql, "expect": query.expect, "value": show_value(value),
                            "passed": passed})
        except sqlite3.Error as exc:
            results.append({"sql": query.sql, "expect": query.expect, "error": str(exc),
                            "passed": False})
    failure = first_failure(results)
    if failure:
        return CheckResult("sqlite", name, Status.FAILED, failure, data={"queries": results})
    summary = ", ".join(f"{r['sql']} = {r['value']}" for r in results[1:4])
    detail = f"integrity ok; {queries_met(len(results) - 1)}" + (f" ({summary})" if summary else "")
    return CheckResult("sqlite", name, Status.PASSED, detail, data={"queries": results})
