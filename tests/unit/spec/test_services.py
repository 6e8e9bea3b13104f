"""A drill's ``services:``: a stack started in dependency order; a cycle or unknown name is a spec
error at the line that names it."""

import textwrap
from pathlib import Path

from drillbook.spec import load_drill
from drillbook.spec.stackorder import start_waves

HEAD = """\
objectives: {rto: 15m, rpo: 26h}
source:
  repository: /srv/backups/portal
  password: {env: PORTAL_RESTIC_PASSWORD}
"""

STACK = HEAD + """\
services:
  db:
    type: postgres
    dump: srv/portal/db/portal.dump
    port: 5432
  cache:
    type: mariadb
    dump: srv/portal/db/patients.sql.gz
  app:
    type: process
    run: [python3, srv/portal/app.py]
    after: [db, cache]
    env: {PORTAL_DB_PORT: "5432"}
    ready: {http: "http://127.0.0.1:8080/health", timeout: 30s}
verify:
  - type: sql
    service: db
    queries:
      - {sql: "select count(*) from appointments", expect: ">= 1"}
  - type: http
    url: http://127.0.0.1:8080/appointments/count
"""


def load(tmp_path: Path, text: str):
    path = tmp_path / "portal.yaml"
    path.write_text(textwrap.dedent(text))
    return load_drill(path)


def test_a_stack_loads_and_starts_in_dependency_order(tmp_path):
    drill, problems = load(tmp_path, STACK)
    assert problems == []
    assert list(drill.services) == ["db", "cache", "app"]
    assert drill.services["app"].ready.http == "http://127.0.0.1:8080/health"
    assert float(drill.services["app"].ready.timeout) == 30
    assert float(drill.services["db"].ready.timeout) == 120  # the default: 2m
    assert start_waves({name: s.after for name, s in drill.services.items()}) == [["db", "cache"], ["app"]]


def test_a_dependency_cycle_is_a_spec_error_at_its_line(tmp_path):
    text = HEAD + """\
services:
  db:
    type: postgres
    dump: db.dump
    after: [app]
  app:
    type: process
    run: [python3, app.py]
    port: 8080
    after: [db]
"""
    drill, problems = load(tmp_path, text)
    assert drill is None
    [problem] = problems
    assert problem.line == 9 and problem.field == "services.db.after"
    assert "cycle" in problem.message and "db -> app -> db" in problem.message
    assert str(problem).startswith(f"{tmp_path / 'portal.yaml'}:9")


def test_an_unknown_name_in_after_is_a_spec_error_naming_the_services(tmp_path):
    text = HEAD + """\
services:
  app:
    type: process
    run: [python3, app.py]
    port: 8080
    after: [database]
"""
    _, problems = load(tmp_path, text)
    [problem] = problems
    assert problem.line == 10 and problem.field == "services.app.after"
    assert '"database"' in problem.message and "app" in problem.message


def test_a_sql_check_must_name_a_declared_database_service(tmp_path):
    text = HEAD + """\
services:
  app: {type: process, run: [python3, app.py], port: 8080}
verify:
  - type: sql
    service: db
    queries: [{sql: "select 1", expect: 1}]
  - type: sql
    service: app
    queries: [{sql: "select 1", expect: 1}]
"""
    _, problems = load(tmp_path, text)
    assert [(p.line, p.field) for p in problems] == [(9, "verify[0].service"), (12, "verify[1].service")]
    assert "no service" in problems[0].message and "not a database" in problems[1].message


def test_a_process_service_says_how_it_is_ready_and_a_database_needs_one_source(tmp_path):
    text = HEAD + """\
services:
  app: {type: process, run: [python3, app.py]}
  db: {type: mariadb, dump: a.sql, data_dir: data}
"""
    _, problems = load(tmp_path, text)
    messages = {p.field: p.message for p in problems}
    assert "ready" in messages["services.app"] and "port" in messages["services.app"]
    assert "exactly one of dump or data_dir" in messages["services.db"]


def test_two_services_on_one_port_is_a_spec_error_at_the_second(tmp_path):
    text = HEAD + """\
services:
  db: {type: postgres, dump: a.sql}
  reports: {type: postgres, dump: b.sql, port: 5433}
  app: {type: process, run: [python3, app.py], port: 5432}
"""
    _, problems = load(tmp_path, text)
    [problem] = problems
    assert (problem.line, problem.field) == (8, "services.app.port")
    assert "5432 is db's too" in problem.message
