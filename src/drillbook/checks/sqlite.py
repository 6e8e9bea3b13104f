"""``sqlite``: the restored database opens read-only, passes integrity_check, answers queries.

The database is opened inside the sandbox by the reader (checks/reading/sqlite.py), through a
guard under which no query can attach, write or create a file, and each has a time limit.
"""

from __future__ import annotations

from drillbook.checks.base import CheckContext, answer_list, default_name, read_restore
from drillbook.checks.expectations import first_failure, queries_met
from drillbook.drill.record import CheckResult
from drillbook.spec.models import SqliteCheck
from drillbook.status import Status

QUERY_TIME_LIMIT = 300.0
INTEGRITY_TIME_LIMIT = 3600.0  # reads every page: a large database takes a while
#: Beyond the guard's own limits: starting the reader, opening the file.
MARGIN = 60.0


def check_sqlite(spec: SqliteCheck, ctx: CheckContext) -> CheckResult:
    name = default_name(spec)
    queries = [{"sql": q.sql, "expect": q.shown, "exact": q.exact} for q in spec.queries]
    limits = {"integrity": INTEGRITY_TIME_LIMIT, "query": QUERY_TIME_LIMIT}
    timeout = INTEGRITY_TIME_LIMIT + len(queries) * QUERY_TIME_LIMIT + MARGIN
    answer = read_restore(ctx, "sqlite", timeout, path=spec.path, queries=queries, limits=limits)
    if "error" in answer:
        return CheckResult("sqlite", name, Status.FAILED, str(answer["error"]))
    results = answer_list(answer, "results", dict)
    failure = first_failure(results) if results else "the reader answered no results"
    if failure:
        return CheckResult("sqlite", name, Status.FAILED, failure, data={"queries": results})
    summary = ", ".join(f"{r['sql']} = {r['value']}" for r in results[1:4])
    detail = f"integrity ok; {queries_met(len(results) - 1)}" + (f" ({summary})" if summary else "")
    return CheckResult("sqlite", name, Status.PASSED, detail, data={"queries": results})
