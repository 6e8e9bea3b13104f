"""A whole stack restored into one sandbox: PostgreSQL from a dump, the portal application after it,
MariaDB from a mysqldump; checks against the running set; nothing left running afterwards."""

from __future__ import annotations

import http.server
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

from devtools.stacksample import add_portal_stack
from tests.support import Repo, make_repo, write_drill

APPOINTMENTS, PATIENTS = 240, 57
PG = Path("/usr/lib/postgresql/15/bin/postgres")
MARIADB = Path("/usr/sbin/mariadbd")

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif((not PG.exists() or not MARIADB.exists()) and not os.environ.get("CI"),
                       reason="PostgreSQL 15 or MariaDB not installed (in CI it fails instead)"),
]

STACK = """\
services:
  db:
    type: postgres
    dump: srv/portal/db/clinic.sql
    database: clinic
    port: 5432
    ready: {timeout: 60s}
  portal:
    type: process
    run: [python3, srv/portal/app/portal.py]
    after: [db]
    env: {PORTAL_PORT: "8080", PORTAL_DB_PORT: "5432"}
    ready: {http: "http://127.0.0.1:8080/health", timeout: 30s}
verify:
  - type: files
    path: srv/portal
    required: [app/portal.py]
  - type: sql
    service: db
    queries:
      - {sql: "select count(*) from appointments", expect: "%(expect)s"}
  - type: http
    name: portal count
    url: http://127.0.0.1:8080/appointments/count
    expect_body: "%(rows)s"
"""


def _mariadb_data_dir(target: Path, dump: Path) -> None:
    """A MariaDB data folder holding the patients table, its root account behind a password drillbook
    does not know, and a my.cnf asking for a public listener (which must not take effect)."""
    base = Path(tempfile.mkdtemp(prefix="drillbook-mariadb-", dir="/tmp"))
    mysql = pwd.getpwnam("mysql")
    os.chown(base, mysql.pw_uid, mysql.pw_gid)
    data, sock = base / "data", str(base / "sock")

    def as_mysql(*argv: str, **kwargs) -> subprocess.CompletedProcess:
        return subprocess.run(["runuser", "-u", "mysql", "--", *argv], check=True, capture_output=True,
                              timeout=120, **kwargs)

    as_mysql("mariadb-install-db", "--no-defaults", f"--datadir={data}", "--skip-test-db",
             "--auth-root-authentication-method=normal")
    server = subprocess.Popen(["runuser", "-u", "mysql", "--", "/usr/sbin/mariadbd", "--no-defaults",
                               f"--datadir={data}", f"--socket={sock}", "--skip-networking",
                               f"--pid-file={base}/pid", "--innodb-log-file-size=4M"],  # a small backup
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    client = ["mariadb", "--no-defaults", f"--socket={sock}", "-uroot"]
    try:
        deadline = time.monotonic() + 30
        while subprocess.run(["runuser", "-u", "mysql", "--", *client, "-e", "select 1"],
                             capture_output=True).returncode != 0:
            assert time.monotonic() < deadline, "the fixture's MariaDB did not start"
            time.sleep(0.1)
        as_mysql(*client, "-e", "CREATE DATABASE clinic")
        as_mysql(*client, "clinic", input=dump.read_bytes())
        as_mysql(*client, "-e", "ALTER USER root@localhost IDENTIFIED BY 'only-the-backup-knows'")
    finally:
        server.terminate()
        server.wait(timeout=60)
    (data / "my.cnf").write_text("[mysqld]\nskip-networking=0\nbind-address=0.0.0.0\nport=3399\n")
    shutil.copytree(data, target, symlinks=True)
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="module")
def stack_repo(tmp_path_factory: pytest.TempPathFactory) -> Repo:
    """One repository holding everything: the clinic sample plus the portal's dumps, its application
    and a MariaDB data folder."""
    repo = make_repo(tmp_path_factory.mktemp("stack"), files=3, rows=10)
    portal = add_portal_stack(repo.data_root, appointments=APPOINTMENTS, patients=PATIENTS)
    _mariadb_data_dir(portal / "db" / "mariadb", portal / "db" / "patients.sql")
    repo.backup()
    return repo


def _running(marker: str) -> bool:
    return subprocess.run(["pgrep", "-f", marker], capture_output=True).returncode == 0


def _nothing_left(workspace) -> None:
    assert not _running(str(workspace.sandboxes)), "a process of the stack outlived the drill"
    assert not _running("portal.py") and not _running("mariadbd --no-defaults")
    assert list(workspace.sandboxes.iterdir()) == []


def test_the_two_service_stack_passes_with_the_app_answering_from_the_database(workspace, stack_repo):
    write_drill(workspace.drills, "portal", stack_repo.path,
                body=STACK % {"expect": f"= {APPOINTMENTS}", "rows": APPOINTMENTS})
    result = workspace.cli("run", "portal", timeout=120)
    run = workspace.last_run("portal")
    assert result.returncode == 0, run["reason"]
    db, portal = run["services"]
    assert [db["name"], portal["name"]] == ["db", "portal"]
    assert db["status"] == portal["status"] == "passed"
    assert db["data"]["server_version"].startswith("15.") and db["data"]["restore_seconds"] > 0
    assert portal["started_at"] >= db["started_at"] and portal["ready_seconds"] > 0
    _, sql, http = run["checks"]
    assert sql["data"]["queries"][0]["value"] == str(APPOINTMENTS)
    assert http["data"]["body_head"].strip() == str(APPOINTMENTS)
    assert run["objectives"]["rto"]["measured_seconds"] >= db["ready_seconds"] + portal["ready_seconds"]
    log = workspace.reports / "portal" / run["run_id"] / db["log"]
    assert "database system is ready to accept connections" in log.read_text()
    assert "portal listening on 8080" in (log.parent / "portal.log").read_text()
    html = (workspace.reports / "portal" / run["run_id"] / "report.html").read_text()
    assert "Services" in html and 'href="services/portal.log"' in html
    _nothing_left(workspace)


def test_a_dump_with_another_row_count_fails_the_sql_check(workspace, stack_repo):
    write_drill(workspace.drills, "portal", stack_repo.path,
                body=STACK % {"expect": f"= {APPOINTMENTS + 1}", "rows": APPOINTMENTS})
    assert workspace.cli("run", "portal", timeout=120).returncode == 1
    run = workspace.last_run("portal")
    sql = run["checks"][1]
    assert sql["status"] == "failed" and f"expected = {APPOINTMENTS + 1}, got {APPOINTMENTS}" in sql["detail"]
    assert run["checks"][2]["status"] == "passed"  # the app answered all the same
    _nothing_left(workspace)


def test_the_app_restored_without_its_database_fails_naming_the_service(workspace, stack_repo):
    body = """\
services:
  portal:
    type: process
    run: [python3, srv/portal/app/portal.py]
    env: {PORTAL_PORT: "8080", PORTAL_DB_PORT: "5432"}
    ready: {http: "http://127.0.0.1:8080/health", timeout: 4s}
  reports:
    type: process
    run: [python3, -m, http.server, "8090", --bind, 127.0.0.1]
    after: [portal]
    port: 8090
verify:
  - type: http
    url: http://127.0.0.1:8080/appointments/count
"""
    write_drill(workspace.drills, "portal", stack_repo.path, body=body)
    assert workspace.cli("run", "portal", timeout=120).returncode == 1
    run = workspace.last_run("portal")
    assert run["reason"].startswith('service "portal" never got ready: http://127.0.0.1:8080/health answered 503')
    assert "last log lines" in run["reason"]
    portal, reports = run["services"]
    assert portal["status"] == "failed" and reports["status"] == "skipped" and "started_at" not in reports
    assert run["checks"][0]["status"] == "skipped"
    _nothing_left(workspace)


def test_mariadb_from_a_plain_and_a_gzip_dump_and_a_data_folder_is_queried_ignoring_its_my_cnf(workspace, stack_repo):
    body = f"""\
services:
  plain: {{type: mariadb, dump: srv/portal/db/patients.sql, database: clinic}}
  packed: {{type: mariadb, dump: srv/portal/db/patients.sql.gz, database: clinic, port: 3306}}
  folder: {{type: mariadb, data_dir: srv/portal/db/mariadb, database: clinic}}
verify:
  - type: sql
    service: plain
    queries:
      - {{sql: "select count(*) from patients", expect: {PATIENTS}}}
      - {{sql: "select @@skip_networking", expect: 1}}
  - type: sql
    service: packed
    queries:
      - {{sql: "select max(name) from patients where id = 3", expect: {{text: patient-3}}}}
      - {{sql: "select null", expect: {{text: "NULL"}}}}
      - {{sql: "select @@bind_address", expect: {{text: "127.0.0.1"}}}}
  - type: sql
    service: folder
    queries:
      - {{sql: "select count(*) from patients", expect: {PATIENTS}}}
      - {{sql: "select @@skip_networking", expect: 1}}
"""
    write_drill(workspace.drills, "patients", stack_repo.path, body=body)
    result = workspace.cli("run", "patients", timeout=120)
    run = workspace.last_run("patients")
    assert result.returncode == 0, run["reason"]
    plain, packed, folder = run["services"]
    assert plain["data"]["source"]["format"] == "mysqldump" and packed["data"]["source"]["format"] == "mysqldump (gzip)"
    assert folder["data"]["source"] == {"kind": "data_dir", "path": "srv/portal/db/mariadb"}
    assert "MariaDB" in plain["data"]["server_version"] and plain["data"]["restore_seconds"] > 0
    assert run["checks"][0]["data"]["queries"][0]["value"] == str(PATIENTS)
    _nothing_left(workspace)


def test_the_stack_cannot_reach_the_hosts_loopback(workspace, stack_repo):
    """A listener on the host's 127.0.0.1 is not the sandbox's 127.0.0.1: the app's ready probe
    finds nothing there, so a stack can never lean on (or reach into) the host's services."""
    host = http.server.HTTPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
    threading.Thread(target=host.serve_forever, daemon=True).start()
    port = host.server_address[1]
    try:
        body = f"""\
services:
  probe:
    type: process
    run: [python3, -c, "import time; time.sleep(60)"]
    ready: {{tcp: {port}, timeout: 3s}}
"""
        write_drill(workspace.drills, "reach", stack_repo.path, body=body)
        assert workspace.cli("run", "reach", timeout=120).returncode == 1
        run = workspace.last_run("reach")
        assert f'service "probe" never got ready: no answer from 127.0.0.1:{port}' in run["reason"]
        assert "ConnectionRefusedError" in run["reason"]
    finally:
        host.shutdown()
    _nothing_left(workspace)


def test_sigterm_during_start_up_leaves_nothing_of_the_stack_running(workspace, stack_repo):
    body = """\
services:
  db: {type: postgres, dump: srv/portal/db/clinic.sql, database: clinic, port: 5432}
  slow:
    type: process
    run: [python3, -c, "import time; time.sleep(120)", slow-stack-marker]
    after: [db]
    ready: {tcp: 9999, timeout: 60s}
"""
    write_drill(workspace.drills, "portal", stack_repo.path, body=body)
    proc = subprocess.Popen([sys.executable, "-m", "drillbook", "run", "portal"], cwd=workspace.root,
                            env=workspace.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not _running("slow-stack-marker") and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.1)
    assert _running("slow-stack-marker"), "the slow service never started"
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=60)
    run = workspace.last_run("portal")
    assert run["status"] == "aborted"
    _nothing_left(workspace)
