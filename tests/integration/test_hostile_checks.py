"""Checks against a hostile snapshot, end to end: what the backup planted reaches no record and no host file.

Each snapshot is a real restic backup of a tree a compromised host could have left: a symlink to
drillbook's signing key where ``PG_VERSION`` belongs, a FIFO where the dump belongs; and a drill
whose sqlite queries try to read or write beyond the restored database.
"""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path

import pytest

from tests.support import Repo, Workspace, make_repo, write_drill

KEY_MARK = "HostileChecksSigningKey"
KEY_TEXT = f"-----BEGIN PRIVATE KEY----- MC4CAQAwBQYDK2VwBCIE{KEY_MARK}"
PATIENT = "Ada Lovelace, 1815-12-10, diagnosis: secret"
PG_BIN = Path("/usr/lib/postgresql/15/bin")
needs_postgres = pytest.mark.skipif(not (PG_BIN / "postgres").exists() and not os.environ.get("CI"),
                                    reason="PostgreSQL 15 not installed (in CI it fails instead)")


def _written_by_the_run(workspace: Workspace, *outputs: str, under: Path | None = None) -> str:
    """Everything the run left readable under ``under`` (the workspace: records, reports, state),
    and what the CLI printed."""
    texts = list(outputs)
    for path in (under or workspace.root).rglob("*"):
        if path.is_file() and not path.is_symlink():
            texts.append(path.read_bytes().decode("utf-8", errors="replace"))
    return "\n".join(texts)


def _snapshot(tmp_path: Path, plant) -> Repo:
    repo = make_repo(tmp_path, files=3, rows=10)
    plant(repo.data_root / "srv" / "clinic" / "db")
    repo.backup()
    return repo


@needs_postgres
def test_pg_version_symlinked_to_the_signing_key_is_never_read(workspace, tmp_path):
    key = tmp_path / "etc-drillbook" / "signing.key"
    key.parent.mkdir()
    key.write_text(KEY_TEXT)

    def plant(db: Path) -> None:
        (db / "pgdata").mkdir()
        (db / "pgdata" / "PG_VERSION").symlink_to(key)

    repo = _snapshot(tmp_path, plant)
    body = """\
    verify:
      - type: postgres
        data_dir: srv/clinic/db/pgdata
        queries:
          - {sql: "select 1", expect: "= 1"}
    """
    write_drill(workspace.drills, "clinic", repo.path, body=body)
    result = workspace.cli("run", "clinic", timeout=300)
    assert result.returncode == 1
    run = workspace.last_run("clinic")
    assert run["checks"][0]["detail"] == (f"srv/clinic/db/pgdata/PG_VERSION leads outside the restore "
                                          f"(a symlink to {key})")
    assert KEY_MARK not in _written_by_the_run(workspace, result.stdout, result.stderr)
    assert key.read_text() == KEY_TEXT


@needs_postgres
def test_pg_version_holding_restored_data_is_not_quoted(workspace, tmp_path):
    def plant(db: Path) -> None:
        (db / "pgdata").mkdir()
        (db / "pgdata" / "PG_VERSION").write_text(PATIENT)

    repo = _snapshot(tmp_path, plant)
    body = """\
    verify:
      - type: postgres
        data_dir: srv/clinic/db/pgdata
    """
    write_drill(workspace.drills, "clinic", repo.path, body=body)
    result = workspace.cli("run", "clinic", timeout=300)
    assert result.returncode == 1
    assert workspace.last_run("clinic")["checks"][0]["detail"] == (
        "srv/clinic/db/pgdata/PG_VERSION does not hold a PostgreSQL version number")
    assert "Lovelace" not in _written_by_the_run(workspace, result.stdout, result.stderr)


@needs_postgres
def test_a_restored_fifo_as_the_dump_fails_at_once(workspace, tmp_path):
    repo = _snapshot(tmp_path, lambda db: os.mkfifo(db / "clinic.dump"))
    body = """\
    verify:
      - type: postgres
        dump: srv/clinic/db/clinic.dump
        queries:
          - {sql: "select 1", expect: "= 1"}
    """
    write_drill(workspace.drills, "clinic", repo.path, body=body)
    started = time.monotonic()
    result = workspace.cli("run", "clinic", timeout=120)
    assert result.returncode == 1
    check = workspace.last_run("clinic")["checks"][0]
    assert check["detail"] == "srv/clinic/db/clinic.dump is a FIFO, not a regular file"
    assert check["duration_seconds"] < 2
    assert time.monotonic() - started < 60


def test_sqlite_queries_cannot_attach_host_databases_or_write_files(workspace, tmp_path, repo):
    other = tmp_path / "other-team" / "patients.sqlite"
    other.parent.mkdir()
    conn = sqlite3.connect(other)
    conn.execute("create table patients (name text)")
    conn.execute("insert into patients values (?)", (PATIENT,))
    conn.commit()
    conn.close()
    drop = tmp_path / "drop"
    drop.mkdir()
    drop.chmod(0o777)  # so only the guard, not a permission, keeps files out
    body = f"""\
    verify:
      - type: sqlite
        path: srv/clinic/db/appointments.sqlite
        queries:
          - {{sql: "attach '{other}' as other", expect: "= 0"}}
          - {{sql: "select name from other.patients", expect: {{text: "x"}}}}
          - {{sql: "attach '{drop / 'new.db'}' as n", expect: "= 0"}}
          - {{sql: "create table n.loot (x)", expect: "= 0"}}
          - {{sql: "vacuum into '{drop / 'copy.db'}'", expect: "= 0"}}
          - {{sql: "select count(*) from appointments", expect: ">= 1000"}}
    """
    write_drill(workspace.drills, "clinic", repo.path, body=body)
    result = workspace.cli("run", "clinic")
    assert result.returncode == 1
    queries = workspace.last_run("clinic")["checks"][0]["data"]["queries"]
    assert queries[1]["error"].startswith("refused: ATTACH")
    assert queries[3]["error"].startswith("refused: ATTACH")
    assert queries[5]["error"].startswith("refused: ATTACH")  # VACUUM INTO attaches its target
    assert queries[6]["passed"] is True
    assert list(drop.iterdir()) == []
    assert "Lovelace" not in _written_by_the_run(workspace, result.stdout, result.stderr)


def test_files_and_sqlite_checks_read_as_the_sandbox_account_not_as_drillbook(workspace, repo):
    """A file the restore's owner closed to itself: drillbook as root could read it anyway, the
    sandbox account cannot, so the checks fail: they read inside the sandbox, unprivileged."""
    body = """\
    verify:
      - type: command
        run: [chmod, "000", srv/clinic/db/appointments.sqlite, srv/clinic/docs]
      - type: sqlite
        path: srv/clinic/db/appointments.sqlite
      - type: files
        path: srv/clinic/docs
    """
    write_drill(workspace.drills, "clinic", repo.path, body=body)
    result = workspace.cli("run", "clinic")
    assert result.returncode == 1
    closed, sqlite_check, files_check = workspace.last_run("clinic")["checks"]
    assert closed["status"] == "passed"
    assert sqlite_check["detail"] == "srv/clinic/db/appointments.sqlite cannot be opened: Permission denied"
    assert files_check["detail"] == "srv/clinic/docs cannot be opened: Permission denied"


def test_a_check_in_the_sandbox_cannot_read_the_signing_key(workspace, repo):
    """A drill's command check (from a less trusted colleague) asks for the key by its path."""
    made = workspace.cli("evidence", "key")  # the key exists before the drill runs
    assert made.returncode == 0, made.stderr
    key = workspace.state / "signing-key.pem"
    secret_lines = [line for line in key.read_text().splitlines() if not line.startswith("-----")]
    body = f"""\
    verify:
      - {{type: command, name: read the key, run: [cat, "{key}"]}}
      - {{type: command, name: list the state folder, run: [ls, -la, "{workspace.state}"]}}
    """
    write_drill(workspace.drills, "clinic", repo.path, body=body)
    result = workspace.cli("run", "clinic")
    assert result.returncode == 1, result.stderr
    checks = {c["name"]: c for c in workspace.last_run("clinic")["checks"]}
    for name, target in (("read the key", key), ("list the state folder", workspace.state)):
        check = checks[name]
        assert check["status"] == "failed", check
        assert str(target) in check["detail"], check
        assert "No such file or directory" in check["detail"] or "Permission denied" in check["detail"], check
    written = _written_by_the_run(workspace, result.stdout, result.stderr, under=workspace.reports)
    assert secret_lines and not any(line in written for line in secret_lines)
