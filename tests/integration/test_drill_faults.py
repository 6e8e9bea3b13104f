"""Every fault a real repository can throw at a drill gives a failed drill with a human reason."""

from __future__ import annotations

import signal
import sqlite3
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from drillbook.backends.resticversion import Features
from tests.support import (
    PASSWORD,
    STANDARD_CHECKS,
    Repo,
    Workspace,
    restic_under_test,
    restic_version_under_test,
    write_drill,
)


def all_output_text(workspace, result) -> str:
    texts = [result.stdout, result.stderr]
    for path in workspace.reports.rglob("*"):
        if path.is_file():
            texts.append(path.read_text(errors="replace"))
    return "\n".join(texts)


@pytest.mark.restic_versions
def test_passing_drill_measures_objectives_and_keeps_no_secret(workspace, repo):
    write_drill(workspace.drills, "clinic", repo.path, body=STANDARD_CHECKS)
    result = workspace.cli("run", "clinic")
    assert result.returncode == 0, result.stderr
    run = workspace.last_run("clinic")
    assert run["status"] == "passed" and run["reason"] is None
    rto, rpo = run["objectives"]["rto"], run["objectives"]["rpo"]
    assert rto["target_seconds"] == 600 and 0 < rto["measured_seconds"] < 600 and rto["met"]
    assert rpo["met"] and rpo["measured_seconds"] >= 0
    names = [p["name"] for p in run["phases"]]
    for phase in ("locate snapshot", "restore", "verify content", "checks", "report"):
        assert phase in names
    assert {c["type"]: c["status"] for c in run["checks"]} == {"files": "passed", "sqlite": "passed"}
    content = run["content"]
    assert content["files_expected"] == content["files_verified"] == 21
    assert content["bytes_verified"] == content["bytes_expected"] > 0
    version = restic_version_under_test()
    assert run["versions"]["restic"] == version  # which restic ran: the record says, the reports show
    report = next(p for p in (workspace.reports / "clinic").iterdir() if p.is_dir())
    assert f"restic {version} ·" in (report / "report.html").read_text()
    assert f"restic {version}," in (report / "report.md").read_text()
    restored = run["restore"].get("restored")
    if Features.of(version).restore_json:  # restic's own counts, beside the content check's
        assert restored["files_restored"] == restored["total_files"] > 21
        assert restored["bytes_restored"] == restored["total_bytes"] == content["bytes_expected"]
    else:
        assert restored is None
    assert run["snapshot"]["host"] == "clinic-1"
    assert PASSWORD not in all_output_text(workspace, result)
    assert (workspace.reports / "index.html").read_text().count("clinic") >= 1


@pytest.mark.restic_versions
def test_wrong_password_says_so_without_leaking_it(workspace, repo):
    write_drill(workspace.drills, "clinic", repo.path, body=STANDARD_CHECKS)
    result = workspace.cli("run", "clinic", TEST_RESTIC_PASSWORD="not-the-password-xyz")
    assert result.returncode == 1
    run = workspace.last_run("clinic")
    assert run["status"] == "failed"
    assert "wrong repository password" in run["reason"]
    assert run["reason"].endswith("; the password came from env TEST_RESTIC_PASSWORD)")
    assert "not-the-password-xyz" not in all_output_text(workspace, result)
    assert run["restic_stderr_tail"], "restic's last words are kept for the on-call engineer"


@pytest.mark.restic_versions
def test_missing_repository(workspace, tmp_path):
    write_drill(workspace.drills, "clinic", tmp_path / "no-such-repo", body=STANDARD_CHECKS)
    assert workspace.cli("run", "clinic").returncode == 1
    assert "repository not found" in workspace.last_run("clinic")["reason"]


def test_no_matching_snapshot_names_the_selector(workspace, repo):
    write_drill(workspace.drills, "clinic", repo.path, body=STANDARD_CHECKS,
                snapshot="{host: clinic-1, tags: [nightly, monthly]}")
    assert workspace.cli("run", "clinic").returncode == 1
    reason = workspace.last_run("clinic")["reason"]
    assert "no snapshot matches host=clinic-1 tags=nightly,monthly" in reason


def test_newest_matching_snapshot_not_newest_overall(workspace, repo):
    older = repo.backup(host="clinic-1", tags=("nightly",))
    repo.backup(host="clinic-2", tags=("nightly",))
    write_drill(workspace.drills, "clinic", repo.path, body=STANDARD_CHECKS)
    assert workspace.cli("run", "clinic").returncode == 0
    assert workspace.last_run("clinic")["snapshot"]["id"] == older


def _largest_pack(repo_path: Path) -> Path:
    packs = [p for p in (repo_path / "data").rglob("*") if p.is_file()]
    return max(packs, key=lambda p: p.stat().st_size)


@pytest.mark.restic_versions
def test_corrupted_pack_fails_the_drill(workspace, repo):
    pack = _largest_pack(repo.path)
    pack.chmod(0o644)
    data = bytearray(pack.read_bytes())
    data[len(data) // 3] ^= 0xFF
    pack.write_bytes(bytes(data))
    write_drill(workspace.drills, "clinic", repo.path, body=STANDARD_CHECKS)
    assert workspace.cli("run", "clinic").returncode == 1
    run = workspace.last_run("clinic")
    assert run["status"] == "failed"
    assert "corrupt" in run["reason"]
    assert "affected: /srv/clinic/" in run["reason"], run["reason"]  # which files are damaged


@pytest.mark.restic_versions
def test_missing_pack_fails_the_drill_at_once_naming_it(workspace, repo):
    pack = _largest_pack(repo.path)
    pack.unlink()
    write_drill(workspace.drills, "clinic", repo.path, body=STANDARD_CHECKS)
    started = time.monotonic()
    assert workspace.cli("run", "clinic").returncode == 1
    assert time.monotonic() - started < 20, "restic's ~45 s of retries on a missing pack were waited out"
    run = workspace.last_run("clinic")
    assert run["status"] == "failed"
    assert f"pack data/{pack.name[:10]}" in run["reason"] and "does not exist" in run["reason"]
    assert list(workspace.sandboxes.iterdir()) == []


def test_failing_check_fails_with_expected_and_actual(workspace, repo):
    body = STANDARD_CHECKS.replace('expect: ">= 1000"', 'expect: "= 5"')
    write_drill(workspace.drills, "clinic", repo.path, body=body)
    assert workspace.cli("run", "clinic").returncode == 1
    run = workspace.last_run("clinic")
    assert "expected = 5, got 1500" in run["reason"]
    assert [c["status"] for c in run["checks"]] == ["passed", "failed"]


def test_hung_command_is_killed_with_its_group(workspace, repo):
    body = """\
    verify:
      - type: command
        run: [sh, -c, "sleep 61.25 & sleep 61.5"]
        timeout: 2s
    """
    write_drill(workspace.drills, "clinic", repo.path, body=body)
    started = time.monotonic()
    assert workspace.cli("run", "clinic").returncode == 1
    assert time.monotonic() - started < 30
    run = workspace.last_run("clinic")
    assert "timed out after 2.0 s" in run["reason"]
    assert subprocess.run(["pgrep", "-f", "sleep 61.[25]"], capture_output=True).returncode == 1


def test_rto_missed_fails_naming_it(workspace, repo):
    body = """\
    verify:
      - type: command
        run: [sleep, "1.2"]
    """
    write_drill(workspace.drills, "clinic", repo.path, body=body, rto="1s")
    assert workspace.cli("run", "clinic").returncode == 1
    run = workspace.last_run("clinic")
    assert run["reason"].startswith("RTO missed: measured") and "target 1s" in run["reason"]
    assert run["objectives"]["rto"]["met"] is False


def test_two_drills_at_once_do_not_interfere(workspace, repo):
    write_drill(workspace.drills, "one", repo.path, body=STANDARD_CHECKS)
    write_drill(workspace.drills, "two", repo.path, body=STANDARD_CHECKS)
    procs = [subprocess.Popen([sys.executable, "-m", "drillbook", "run", name], cwd=workspace.root,
                              env=workspace.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for name in ("one", "two")]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    one, two = workspace.last_run("one"), workspace.last_run("two")
    assert one["run_id"] != two["run_id"]
    assert one["content"]["files_verified"] == two["content"]["files_verified"] == 21
    assert list(workspace.sandboxes.iterdir()) == []


def test_sigterm_tears_down_and_records_aborted(workspace, repo):
    body = """\
    verify:
      - type: command
        run: [sleep, "47.5"]
    """
    write_drill(workspace.drills, "clinic", repo.path, body=body)
    proc = subprocess.Popen([sys.executable, "-m", "drillbook", "run", "clinic"], cwd=workspace.root,
                            env=workspace.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while subprocess.run(["pgrep", "-f", "sleep 47.5"], capture_output=True).returncode != 0:
        assert time.monotonic() < deadline and proc.poll() is None, "check never started"
        time.sleep(0.1)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 143  # 128 + SIGTERM: stopped, not failed
    run = workspace.last_run("clinic")
    assert run["status"] == "aborted" and "SIGTERM" in run["reason"]
    assert list(workspace.sandboxes.iterdir()) == []
    assert subprocess.run(["pgrep", "-f", "sleep 47.5"], capture_output=True).returncode == 1


def test_keep_sandbox_keeps_the_restore(workspace, repo):
    write_drill(workspace.drills, "clinic", repo.path, body=STANDARD_CHECKS)
    assert workspace.cli("run", "clinic", "--keep-sandbox").returncode == 0
    kept = list(workspace.sandboxes.iterdir())
    assert len(kept) == 1 and (kept[0] / "restore" / "srv" / "clinic" / "db").is_dir()


@pytest.mark.restic_versions
def test_drills_only_call_read_only_restic_commands(workspace, repo, tmp_path):
    log = tmp_path / "restic-argv.log"
    wrapper = tmp_path / "restic-wrapper"
    wrapper.write_text(f'#!/bin/sh\necho "$@" >> {log}\nexec {restic_under_test()} "$@"\n')
    wrapper.chmod(0o755)
    write_drill(workspace.drills, "clinic", repo.path, body=STANDARD_CHECKS)
    assert workspace.cli("run", "clinic", DRILLBOOK_RESTIC=str(wrapper)).returncode == 0
    calls = [line.split() for line in log.read_text().splitlines()]
    assert {c[0] for c in calls} <= {"snapshots", "ls", "restore", "check", "cat", "stats", "version"}
    assert {"snapshots", "ls", "restore"} <= {c[0] for c in calls}
    assert all("--no-lock" in c for c in calls if c[0] != "version")
    assert all(PASSWORD not in " ".join(c) for c in calls)


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
    repo.init()
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
    repo.init()
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
    repo.init()
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
