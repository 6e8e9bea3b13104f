"""The stack of a drill's services on the host's loopback (a launcher without namespaces):
started in ``after:`` order until ready, later ones skipped after one that never gets ready,
stopped in reverse order, logs kept capped and scrubbed."""

from __future__ import annotations

from pathlib import Path

from drillbook.checks.base import CheckContext
from drillbook.checks.services import mariadb
from drillbook.checks.services.stack import Stack, addresses_stack
from drillbook.spec.models import Drill
from drillbook.status import Status
from tests.support import free_port
from tests.unit.checks.fakes import LocalLauncher

SERVE = ("import http.server, os, sys; print('serving with token', os.environ['PORTAL_TOKEN'], flush=True); "
         "http.server.HTTPServer(('127.0.0.1', int(sys.argv[1])), http.server.SimpleHTTPRequestHandler)"
         ".serve_forever()")


def _drill(services: dict, verify: list | None = None) -> Drill:
    return Drill.model_validate({"name": "x", "objectives": {"rto": "1h", "rpo": "1d"},
                                 "source": {"repository": "/r", "password": {"env": "PW"}},
                                 "services": services, "verify": verify or []})


def _stack(tmp_path: Path, drill: Drill, secrets: list[str] | None = None) -> tuple[Stack, list[tuple]]:
    for name in ("restore", "work", "logs", "run"):
        (tmp_path / name).mkdir(exist_ok=True)
    ctx = CheckContext(tmp_path / "restore", tmp_path / "work", LocalLauncher(tmp_path / "logs"),
                       secrets=secrets or [])
    events: list[tuple] = []
    return Stack(ctx, dict(drill.services), tmp_path / "run", lambda *e: events.append(e[:2])), events


def test_services_start_in_order_until_ready_and_stop_in_reverse_with_scrubbed_logs(tmp_path: Path) -> None:
    web, api = free_port(), free_port()
    drill = _drill({
        "api": {"type": "process", "run": ["python3", "-c", SERVE, str(api)], "after": ["web"],
                "env": {"PORTAL_TOKEN": "s3cret-token"}, "ready": {"http": f"http://127.0.0.1:{api}/"}},
        "web": {"type": "process", "run": ["python3", "-c", SERVE, str(web)], "port": web,
                "env": {"PORTAL_TOKEN": "s3cret-token"}},
    })
    stack, events = _stack(tmp_path, drill)  # PORTAL_TOKEN's value: a secret by its name
    assert stack.start() is None
    assert [r["name"] for r in stack.records] == ["web", "api"]
    assert all(r["status"] == Status.PASSED and r["ready_seconds"] > 0 for r in stack.records)
    services = stack.ctx.launcher.services  # type: ignore[attr-defined]
    assert all(s.poll() is None for s in services)
    stack.stop()
    assert [s.poll() is not None for s in services] == [True, True]
    assert events == [("service-start", "web"), ("service-end", "web"),
                      ("service-start", "api"), ("service-end", "api")]
    log = (tmp_path / "run" / "services" / "api.log").read_text()
    assert "serving with token" in log and "s3cret-token" not in log
    assert stack.records[1]["log"] == "services/api.log"


def test_a_service_that_never_gets_ready_fails_naming_it_and_later_ones_are_skipped(tmp_path: Path) -> None:
    port = free_port()
    drill = _drill({
        "db": {"type": "process", "run": ["python3", "-c", "print('db: cannot open data'); raise SystemExit(3)"],
               "port": port},
        "app": {"type": "process", "run": ["python3", "-c", "import time; time.sleep(30)"], "port": port + 1,
                "after": ["db"]},
    })
    stack, _ = _stack(tmp_path, drill)
    failure = stack.start()
    assert failure is not None and failure.startswith('service "db" never got ready: the service exited with code 3')
    assert "db: cannot open data" in failure
    db, app = stack.records
    assert db["status"] == Status.FAILED and app["status"] == Status.SKIPPED and "started_at" not in app
    assert stack.ctx.launcher.services.__len__() == 1  # type: ignore[attr-defined]  # app never started
    stack.stop()


def test_checks_addressing_the_stack_are_sql_and_probes_that_start_nothing() -> None:
    drill = _drill({"db": {"type": "postgres", "dump": "d.sql"}}, [
        {"type": "sql", "service": "db", "queries": [{"sql": "select 1", "expect": 1}]},
        {"type": "http", "url": "http://127.0.0.1:8080/"},
        {"type": "http", "url": "http://127.0.0.1:8081/", "start": ["python3", "app.py"]},
        {"type": "files", "path": "."},
    ])
    assert [addresses_stack(c, True) for c in drill.verify] == [True, True, False, False]
    assert not addresses_stack(drill.verify[1], False)  # without services: an http check as always


def test_mariadb_reads_no_option_file_and_listens_only_where_told(tmp_path: Path) -> None:
    argv = mariadb.server_argv(tmp_path / "data", "/tmp/m.sock", tmp_path, None, skip_grants=False)
    assert argv[:2] == [mariadb.SERVER, "--no-defaults"]  # must come first to take effect
    assert "--skip-networking" in argv and not any(a.startswith("--bind-address") for a in argv)
    tcp = mariadb.server_argv(tmp_path / "data", "/tmp/m.sock", tmp_path, 3306, skip_grants=True)
    assert "--bind-address=127.0.0.1" in tcp and "--port=3306" in tcp and "--skip-grant-tables" in tcp


def test_mariadb_values_tell_null_from_the_text_null_and_keep_line_breaks() -> None:
    xml = ('<?xml version="1.0"?>\n<resultset statement="x" '
           'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">\n  <row>\n'
           '\t<field name="a" xsi:nil="true" />\n  </row>\n</resultset>\n')
    assert mariadb.first_value(xml) is None
    assert mariadb.first_value(xml.replace(' xsi:nil="true" />', '>NULL</field>')) == "NULL"
    assert mariadb.first_value(xml.replace(' xsi:nil="true" />', '>a\nb&lt;</field>')) == "a\nb<"
    assert mariadb.first_value('<?xml version="1.0"?>\n<resultset statement="x"></resultset>') is None
