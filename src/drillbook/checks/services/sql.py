"""``sql``: queries against a database service of the drill's running stack (postgres or mariadb).

The server was brought up by ``services:`` (checks/services/stack.py) and stays up for every
check that addresses it; this check only queries. Queries use the same expectation syntax as
``sqlite`` and ``postgres``.
"""

from __future__ import annotations

from typing import Any

from drillbook.checks.base import CheckContext, default_name
from drillbook.checks.expectations import first_failure, queries_met
from drillbook.drill.record import CheckResult
from drillbook.spec.models import SqlCheck
from drillbook.status import Status


def check_sql(spec: SqlCheck, ctx: CheckContext) -> CheckResult:
    name = default_name(spec)
    database = ctx.stack.database(spec.service) if ctx.stack is not None else None
    if database is None:
        return CheckResult("sql", name, Status.FAILED, f'service "{spec.service}" is not running, so '
                                                       "nothing could be queried")
    target = spec.database or database.database
    results = database.queries(spec.database, list(spec.queries))
    data: dict[str, Any] = {"service": spec.service, "database": target, "queries": results}
    failure = first_failure(results)
    if failure:
        return CheckResult("sql", name, Status.FAILED, f"{spec.service}: {failure}", data=data)
    summary = ", ".join(f"{r['sql']} = {r['value']}" for r in results[:3])
    return CheckResult("sql", name, Status.PASSED,
                       f"{spec.service}: {queries_met(len(results))} ({summary})", data=data)
