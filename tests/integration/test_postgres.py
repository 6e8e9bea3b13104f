"""A real PostgreSQL 15 database, dumped, backed up with restic, restored into a throwaway server."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from tests.support import Repo, make_repo, write_drill

BIN = Path("/usr/lib/postgresql/15/bin")
ROWS = 1234

pytestmark = pytest.mark.skipif(not (BIN / "postgres").exists() and not os.environ.get("CI"),
                                reason="PostgreSQL 15 not installed (in CI it fails instead)")


def _as_postgres(argv: list[str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(["runuser", "-u", "postgres", "--", *argv], check=True,
                          capture_output=True, timeout=120, **kwargs)


@pytest.fixture(scope="module")
def live_database():
    """A PostgreSQL 15 server of its own (unix socket only) with a table of ROWS appointments."""
    base = Path(tempfile.mkdtemp(prefix="drillbook-pg-", dir="/tmp"))
    pg = pwd.getpwnam("postgres")
    os.chown(base, pg.pw_uid, pg.pw_gid)
    data, sock = base / "data", base / "sock"
    _as_postgres([str(BIN / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust", "--no-sync"])
    sock.mkdir()
    os.chown(sock, pg.pw_uid, pg.pw_gid)
    _as_postgres([str(BIN / "pg_ctl"), "-D", str(data), "-w", "-l", str(base / "log"), "-o",
                  f"-c listen_addresses='' -c unix_socket_directories={sock}", "start"])
    psql = [str(BIN / "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", str(sock), "-U", "postgres"]
    _as_postgres([*psql, "-d", "postgres", "-c", "CREATE ROLE clinic_app NOLOGIN",
                  "-c", "CREATE DATABASE clinic"])
    _as_postgres([*psql, "-d", "clinic", "-c",
                  "CREATE TABLE appointments (id serial primary key, patient text, at date);"
                  "ALTER TABLE appointments OWNER TO clinic_app;"
                  f"INSERT INTO appointments (patient, at) SELECT 'patient-' || i, "
                  f"date '2026-11-01' + (i % 28) FROM generate_series(1, {ROWS}) i;"])
    dumps = {
        "custom": _as_postgres([str(BIN / "pg_dump"), "-Fc", "-h", str(sock), "-U", "postgres", "clinic"]).stdout,
        "plain": _as_postgres([str(BIN / "pg_dump"), "-Fp", "-h", str(sock), "-U", "postgres", "clinic"]).stdout,
    }
    _as_postgres([str(BIN / "pg_ctl"), "-D", str(data), "-w", "-m", "fast", "stop"])
    yield dumps, data
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def pg_repo(tmp_path, live_database) -> Repo:
    dumps, data = live_database
    repo = make_repo(tmp_path, files=3, rows=10)
    db = repo.data_root / "srv" / "clinic" / "db"
    (db / "clinic.dump").write_bytes(dumps["custom"])
    (db / "clinic.sql").write_bytes(dumps["plain"])
    shutil.copytree(data, db / "pgdata", symlinks=True)
    repo.backup()
    return repo


DRILL = """\
verify:
  - type: postgres
    name: clinic dump
    dump: srv/clinic/db/clinic.dump
    queries:
      - {{sql: "select count(*) from appointments", expect: "{expect}"}}
      - {{sql: "show listen_addresses", expect: {{text: ""}}}}
      - {{sql: "select current_user", expect: {{text: "postgres"}}}}
"""


def test_custom_and_plain_dumps_and_data_dir_restore_and_answer(workspace, pg_repo):
    body = DRILL.format(expect=f"= {ROWS}") + """\
  - type: postgres
    name: clinic plain dump
    dump: srv/clinic/db/clinic.sql
    database: clinic
    queries:
      - {sql: "select max(at) from appointments", expect: {text: "2026-11-28"}}
      - {sql: "select tableowner from pg_tables where tablename = 'appointments'", expect: {text: clinic_app}}
  - type: postgres
    name: clinic data folder
    data_dir: srv/clinic/db/pgdata
    database: clinic
    queries:
      - {sql: "select count(*) from appointments", expect: ">= 1000"}
"""
    write_drill(workspace.drills, "clinic", pg_repo.path, body=body)
    result = workspace.cli("run", "clinic", timeout=300)
    run = workspace.last_run("clinic")
    assert result.returncode == 0, run["reason"]
    custom, plain, data_dir = (c["data"] for c in run["checks"])
    assert custom["source"]["format"] == "custom" and custom["source"]["dumped_from"].startswith("15")
    assert custom["database"] == "clinic" and custom["server_version"].startswith("15.")
    assert custom["binaries"]["bindir"] == str(BIN)
    assert custom["restore_seconds"] > 0 and custom["queries"][0]["value"] == str(ROWS)
    assert plain["source"]["format"] == "plain" and plain["roles_created"] == ["clinic_app"]
    assert data_dir["source"] == {"kind": "data_dir", "path": "srv/clinic/db/pgdata", "pg_version": 15}
    assert subprocess.run(["pgrep", "-f", str(workspace.sandboxes)], capture_output=True).returncode == 1
    assert list(workspace.sandboxes.iterdir()) == []


def test_a_control_run_proves_the_dump_check_catches_a_dump_cut_to_half(workspace, pg_repo):
    """The check passes on the real dump, then fails on an empty restore and on the dump cut short."""
    write_drill(workspace.drills, "clinic", pg_repo.path, body=DRILL.format(expect=f"= {ROWS}"))
    result = workspace.cli("run", "--control", "clinic", timeout=300)
    run = workspace.last_run("clinic")
    assert result.returncode == 0, run["reason"]
    assert [(c["check"], c["damage"], c["caught"]) for c in run["controls"]] == [
        ("clinic dump", "an empty restore", True),
        ("clinic dump", "a restore whose srv/clinic/db/clinic.dump is cut to half its size", True)]
    assert {p["name"]: p for p in run["phases"]}["controls"]["detail"] == "1 of 1 check proven to catch damage"


def test_sql_null_the_text_null_and_a_value_with_a_newline_are_told_apart(workspace, pg_repo):
    body = """\
verify:
  - type: postgres
    dump: srv/clinic/db/clinic.dump
    queries:
      - {sql: "select 'NULL'", expect: {text: "'NULL'"}}
      - {sql: "select null", expect: {text: "NULL"}}
      - {sql: "select E'a\\nb', 'c'", expect: {text: "a\\nb"}}
      - {sql: "select ''", expect: {text: ""}}
"""
    write_drill(workspace.drills, "clinic", pg_repo.path, body=body)
    result = workspace.cli("run", "clinic", timeout=300)
    run = workspace.last_run("clinic")
    assert result.returncode == 0, run["reason"]
    values = [q["value"] for q in run["checks"][0]["data"]["queries"]]
    assert values == ["'NULL'", "NULL", "a\nb", ""]


def test_wrong_row_count_fails_with_expected_and_actual(workspace, pg_repo):
    write_drill(workspace.drills, "clinic", pg_repo.path, body=DRILL.format(expect="= 99"))
    assert workspace.cli("run", "clinic", timeout=300).returncode == 1
    run = workspace.last_run("clinic")
    assert f"expected = 99, got {ROWS}" in run["reason"]
    assert run["checks"][0]["data"]["queries"][0]["passed"] is False


def test_dump_from_a_missing_version_fails_naming_it(workspace, pg_repo):
    body = DRILL.format(expect=f"= {ROWS}").replace("    queries:", "    version: 9\n    queries:", 1)
    write_drill(workspace.drills, "clinic", pg_repo.path, body=body)
    assert workspace.cli("run", "clinic", timeout=300).returncode == 1
    assert "PostgreSQL 9 (declared version) is not installed" in workspace.last_run("clinic")["reason"]


def test_a_dump_symlinked_to_the_live_host_is_not_restored(workspace, tmp_path):
    """A restored symlink pointing at the host's dump would prove the host, not the backup."""
    live = tmp_path / "live-host" / "clinic.dump"
    live.parent.mkdir()
    live.write_text("-- a dump that exists only on the live host\n")
    repo = make_repo(tmp_path)
    (repo.data_root / "srv" / "clinic" / "db" / "host.dump").symlink_to(live)
    repo.backup()
    body = """\
    verify:
      - type: postgres
        dump: srv/clinic/db/host.dump
        queries:
          - {sql: "select 1", expect: "= 1"}
    """
    write_drill(workspace.drills, "clinic", repo.path, body=body)
    assert workspace.cli("run", "clinic", timeout=300).returncode == 1
    assert "leads outside the restore" in workspace.last_run("clinic")["reason"]


HOSTILE_AUTO_CONF = """\
# what a compromised host leaves in its data folder for the restored server to obey; hba_file is
# relative to the server's working folder, work/pg-1 (obeyed, it let anyone in over TCP as anyone)
listen_addresses = '127.0.0.1'
hba_file = '../../restore/srv/clinic/db/pgdata/hostile_hba.conf'
shared_preload_libraries = 'pg_stat_statements'
"""

#: Listening TCP sockets of the sandbox's network namespace, seen by the server itself.
LISTENING = ("select count(*) from regexp_split_to_table(pg_read_file('/proc/net/tcp'), E'\\\\n') l "
             "where split_part(trim(l), ' ', 4) = '0A'")


def test_a_hostile_data_folder_cannot_open_tcp_or_trust_logins(workspace, tmp_path, live_database):
    """auto.conf asks for TCP and a trust-all hba file; standby.signal for a read-only standby."""
    _dumps, data = live_database
    repo = make_repo(tmp_path, files=3, rows=10)
    pgdata = repo.data_root / "srv" / "clinic" / "db" / "pgdata"
    shutil.copytree(data, pgdata, symlinks=True)
    (pgdata / "postgresql.auto.conf").write_text(HOSTILE_AUTO_CONF)
    (pgdata / "hostile_hba.conf").write_text("host all all 0.0.0.0/0 trust\nlocal all all trust\n")
    (pgdata / "standby.signal").write_text("")
    repo.backup()
    body = f"""\
verify:
  - type: postgres
    name: hostile data folder
    data_dir: srv/clinic/db/pgdata
    database: clinic
    queries:
      - {{sql: "select count(*) from appointments", expect: "= {ROWS}"}}
      - {{sql: "{LISTENING}", expect: "= 0"}}
      - {{sql: "show listen_addresses", expect: {{text: ""}}}}
      - {{sql: "select count(*) from pg_settings where name in ('listen_addresses', \
'shared_preload_libraries') and source = 'command line'", expect: "= 2"}}
      - {{sql: "select current_setting('hba_file') like '%/config/pg-1/pg_hba.conf'", expect: {{text: "t"}}}}
      - {{sql: "select pg_is_in_recovery()", expect: {{text: "f"}}}}
      - {{sql: "select count(*) from pg_file_settings where sourcefile like '%auto.conf'", expect: "= 0"}}
"""
    write_drill(workspace.drills, "clinic", repo.path, body=body)
    result = workspace.cli("run", "clinic", timeout=300)
    run = workspace.last_run("clinic")
    assert result.returncode == 0, run["reason"]
    check = run["checks"][0]["data"]
    assert check["set_aside"] == ["postgresql.auto.conf", "standby.signal"]
    assert all(q["passed"] for q in check["queries"]), check["queries"]
