"""Review findings on the core drill path: ways a drill could pass on evidence that is not the
restore, and secrets that could reach argv."""

from __future__ import annotations

import sqlite3
import stat
import textwrap
from pathlib import Path

from tests.support import STANDARD_CHECKS, Repo, Workspace, write_drill


def test_restored_symlink_to_the_live_host_does_not_pass_checks(tmp_path: Path,
                                                                 workspace: Workspace) -> None:
    """A snapshot whose db folder is an absolute symlink (``db -> /var/lib/...``): after the
    restore the link points at the live host, and checks must not verify the host's data."""
    live = tmp_path / "live" / "db"
    live.mkdir(parents=True)
    conn = sqlite3.connect(live / "appointments.sqlite")
    conn.execute("create table appointments (id integer primary key)")
    conn.executemany("insert into appointments values (?)", [(i,) for i in range(1500)])
    conn.commit()
    conn.close()
    source = tmp_path / "source"
    docs = source / "srv" / "clinic" / "docs"
    docs.mkdir(parents=True)
    for i in range(12):
        (docs / f"letter-{i:04d}.txt").write_text("letter\n")
    (source / "srv" / "clinic" / "db").symlink_to(live)
    repo = Repo(tmp_path / "repo", "pw-review", source)
    repo.restic().init()
    repo.backup()
    write_drill(workspace.drills, "linked", repo.path, body=STANDARD_CHECKS)
    done = workspace.cli("run", "linked", TEST_RESTIC_PASSWORD="pw-review")
    run = workspace.last_run("linked")
    assert done.returncode == 1, done.stdout + done.stderr
    assert run["status"] == "failed"
    sqlite_check = next(c for c in run["checks"] if c["type"] == "sqlite")
    assert sqlite_check["status"] == "failed"
    assert "outside the restore" in sqlite_check["detail"]


def test_files_check_does_not_follow_a_symlinked_folder_out_of_the_restore(
        tmp_path: Path, workspace: Workspace) -> None:
    live = tmp_path / "live" / "docs"
    live.mkdir(parents=True)
    for i in range(12):
        (live / f"letter-{i:04d}.txt").write_text("live letter\n")
    source = tmp_path / "source"
    (source / "srv" / "clinic").mkdir(parents=True)
    (source / "srv" / "clinic" / "docs").symlink_to(live)
    (source / "srv" / "clinic" / "README").write_text("restored for real\n")
    repo = Repo(tmp_path / "repo", "pw-review", source)
    repo.restic().init()
    repo.backup()
    body = """\
        verify:
          - type: files
            path: srv/clinic/docs
            min_count: 10
            required: [letter-0001.txt]
        """
    write_drill(workspace.drills, "linkdocs", repo.path, body=body)
    done = workspace.cli("run", "linkdocs", TEST_RESTIC_PASSWORD="pw-review")
    run = workspace.last_run("linkdocs")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "outside the restore" in run["checks"][0]["detail"]


def test_an_empty_snapshot_fails_the_drill(tmp_path: Path, workspace: Workspace) -> None:
    """The classic silent backup failure: the volume was not mounted, the snapshot is empty."""
    source = tmp_path / "source"
    (source / "srv" / "clinic").mkdir(parents=True)
    repo = Repo(tmp_path / "repo", "pw-review", source)
    repo.restic().init()
    repo.backup()
    write_drill(workspace.drills, "empty", repo.path)
    done = workspace.cli("run", "empty", TEST_RESTIC_PASSWORD="pw-review")
    run = workspace.last_run("empty")
    assert done.returncode == 1, done.stdout + done.stderr
    assert run["status"] == "failed"
    assert "no files" in run["reason"]


def test_repository_credentials_never_reach_restic_argv(tmp_path: Path, workspace: Workspace) -> None:
    log = tmp_path / "argv.log"
    wrapper = tmp_path / "restic-wrapper"
    wrapper.write_text(textwrap.dedent(f"""\
        #!/bin/sh
        printf '%s\\n' "$*" >> {log}
        exec restic "$@"
        """))
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    write_drill(workspace.drills, "rest", "rest:http://clinic:hunter2-secret@127.0.0.1:1/repo")
    done = workspace.cli("run", "rest", DRILLBOOK_RESTIC=str(wrapper))
    assert done.returncode == 1, done.stdout + done.stderr
    argv = log.read_text()
    assert "snapshots" in argv
    assert "hunter2-secret" not in argv
    for path in (workspace.reports / "rest").rglob("*"):
        if path.is_file():
            assert "hunter2-secret" not in path.read_text(errors="replace"), path


def test_display_hides_a_password_that_contains_an_at_sign() -> None:
    from drillbook.drill.engine import _display_repository

    shown = _display_repository("rest:https://clinic:p@ss@backup.example.org:8000/repo")
    assert "ss@backup" not in shown
    assert shown == "rest:https://clinic:***@backup.example.org:8000/repo"
