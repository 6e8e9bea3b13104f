"""Runs that hostile data or a hostile clock would once have turned green, broken or stuck."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from drillbook.drill.engine import DeclaredDrill, run_drill
from drillbook.sandbox import holder
from drillbook.settings import Settings
from drillbook.spec.loader import load_drill
from tests.integration.serving import Serve
from tests.support import PASSWORD, PASSWORD_ENV, STANDARD_CHECKS, Repo, Workspace, write_drill, write_orphan_record
from tests.unit.sandbox.test_removal import DEPTH, deep_tree


def test_a_future_dated_snapshot_fails_the_drill(workspace: Workspace, repo: Repo) -> None:
    """``restic backup --time 2099-01-01`` would otherwise stay "newest" and keep a stale backup green."""
    forged = repo.backup(time_override="2099-01-01 00:00:00")
    write_drill(workspace.drills, "clinic", repo.path, body=STANDARD_CHECKS, rpo="1d")
    result = workspace.cli("run", "clinic", "--plain")
    assert result.returncode == 1, result.stderr
    run = workspace.last_run("clinic")
    assert run["status"] == "failed"
    assert run["reason"] == (f"snapshot {forged[:8]} is dated in the future (2099-01-01T00:00:00.000Z); "
                             "the clock of the backed-up host is wrong or the snapshot was forged")
    assert run["objectives"]["rpo"]["met"] is not True


# -- deep trees and teardown -----------------------------------------------------------------

@pytest.fixture
def scrub_deep(workspace: Workspace) -> Iterator[Callable[[Path], Path]]:
    """Deep trees made by a test are removed after it, whatever happened: pytest's clean-up of
    old temporary folders recurses and would fail on them in every later session."""
    made: list[Path] = []
    yield lambda path: made.append(path) or path
    for path in made:
        subprocess.run(["rm", "-rf", str(path)], check=False)


def test_a_restore_deeper_than_the_recursion_limit_is_torn_down(workspace: Workspace, repo: Repo,
                                                                scrub_deep: Callable[[Path], Path]) -> None:
    deep_tree(scrub_deep(repo.data_root / "srv" / "clinic" / "deep"))
    repo.backup()
    write_drill(workspace.drills, "clinic", repo.path, body=STANDARD_CHECKS)
    scrub_deep(workspace.sandboxes)
    result = workspace.cli("run", "clinic", "--plain")
    run = workspace.last_run("clinic")
    phases = {p["name"]: (p["status"], p["detail"]) for p in run["phases"]}
    assert phases["teardown"] == ("passed", "sandbox removed"), phases["teardown"]
    assert result.returncode == 0 and run["status"] == "passed", run["reason"]
    assert run["content"]["dirs_expected"] > DEPTH
    assert list(workspace.sandboxes.iterdir()) == []


def _run_in_process(workspace: Workspace, repo: Repo, monkeypatch: pytest.MonkeyPatch,
                    observer: Callable[[str, str, dict[str, Any]], None]) -> dict[str, Any]:
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    drill, problems = load_drill(write_drill(workspace.drills, "clinic", repo.path, body=STANDARD_CHECKS))
    assert drill is not None, problems
    settings = Settings(drills_dir=workspace.drills, reports_dir=workspace.reports,
                        sandbox_root=workspace.sandboxes, state_dir=workspace.state,
                        runbooks_dir=workspace.root / "runbooks")
    return run_drill(DeclaredDrill(drill, workspace.drills / "clinic.yaml"), settings, observer=observer).record


@pytest.fixture
def bind_mount(tmp_path: Path) -> Iterator[Callable[[Path], Path]]:
    """Bind-mounts a host folder at a given path (a mount the remover must not enter), and undoes it."""
    if os.geteuid() != 0 or not shutil.which("mount"):
        pytest.skip("needs root and mount")
    host = tmp_path / "host-data"
    host.mkdir()
    (host / "precious.txt").write_text("host data")
    points: list[Path] = []

    def mount(point: Path) -> Path:
        point.mkdir()
        if subprocess.run(["mount", "--bind", str(host), str(point)], capture_output=True).returncode:
            pytest.skip("bind mounts are not allowed here")
        points.append(point)
        return host

    yield mount
    for point in points:
        subprocess.run(["umount", "-l", str(point)], check=False)
        holder.remove_tree(point.parents[1])


def test_a_teardown_that_cannot_remove_the_restored_data_fails_the_run(
        workspace: Workspace, repo: Repo, monkeypatch: pytest.MonkeyPatch,
        bind_mount: Callable[[Path], Path]) -> None:
    """Something mounted into the restore (not by the drill) keeps the tree from being removed."""
    hosts: list[Path] = []

    def observe(event: str, name: str, info: dict[str, Any]) -> None:
        if event == "phase-start" and name == "teardown":
            [sandbox] = workspace.sandboxes.iterdir()
            hosts.append(bind_mount(sandbox / "restore" / "mounted"))

    record = _run_in_process(workspace, repo, monkeypatch, observe)
    [sandbox] = workspace.sandboxes.iterdir()
    assert record["status"] == "failed"
    assert record["reason"].startswith(f"restored data left at {sandbox} (teardown incomplete: ")
    assert "mounted: a mount point, not entered" in record["reason"]
    assert (hosts[0] / "precious.txt").read_text() == "host data"
    assert not (sandbox / "restore" / "srv").exists()  # the rest of the restore went
    saved = json.loads(next(workspace.reports.glob("clinic/*/run.json")).read_text())
    assert saved["status"] == "failed" and saved["reason"] == record["reason"]


def test_a_teardown_whose_remover_fails_fails_the_run(workspace: Workspace, repo: Repo,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    def stuck(path: Path) -> None:
        raise holder.TreeLeft(f"{path} could not be removed completely: restore: Device or resource busy")

    monkeypatch.setattr(holder, "remove_tree", stuck)
    record = _run_in_process(workspace, repo, monkeypatch, lambda *_: None)
    monkeypatch.undo()
    [sandbox] = workspace.sandboxes.iterdir()
    holder.remove_tree(sandbox)
    assert record["status"] == "failed"
    assert record["reason"] == (f"restored data left at {sandbox} (teardown incomplete: {sandbox} could not "
                                "be removed completely: restore: Device or resource busy); remove it, or "
                                "run drillbook cleanup to retry")


@pytest.fixture
def immutable() -> Iterator[Callable[[Path], None]]:
    """Makes a folder immutable (chattr +i: not even root may write in it), and undoes it."""
    if not shutil.which("chattr"):
        pytest.skip("chattr is not installed")
    locked: list[Path] = []

    def lock(path: Path) -> None:
        if subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode:
            pytest.skip("chattr +i is not available here")
        locked.append(path)

    yield lock
    for path in locked:
        subprocess.run(["chattr", "-i", str(path)], check=False)


def test_stale_runs_that_cannot_be_cleaned_up_never_stop_run_cleanup_or_serve(
        workspace: Workspace, repo: Repo, scrub_deep: Callable[[Path], Path],
        immutable: Callable[[Path], None]) -> None:
    deep = scrub_deep(workspace.sandboxes / "20260101T000000Z-deep01")
    deep.mkdir()
    deep_tree(deep / "restore")
    write_orphan_record(workspace.reports, "stale", deep.name, deep)
    locked = write_orphan_record(workspace.reports, "stale", "20260101T000000Z-lock01").parent
    immutable(locked)  # its record can never be finished
    write_drill(workspace.drills, "clinic", repo.path, body=STANDARD_CHECKS)

    result = workspace.cli("run", "clinic", "--plain")
    assert result.returncode == 0, result.stderr
    assert workspace.last_run("clinic")["status"] == "passed"
    assert "could not clean up the run in" in result.stderr and "20260101T000000Z-lock01" in result.stderr
    assert not deep.exists()
    assert json.loads((locked / "run.json").read_text())["status"] == "running"

    cleanup = workspace.cli("cleanup")
    assert cleanup.returncode == 0, cleanup.stderr

    server = _serve(workspace)
    try:
        server.wait_for("serve-start")
        assert server.stop()[0] == 0
    finally:
        server.kill()


# -- runs finished but never sealed --------------------------------------------------------------

def _unsealed_run(workspace: Workspace, repo: Repo) -> dict[str, Any]:
    """A finished run whose drillbook stopped before sealing it: its ledger entry never came."""
    write_drill(workspace.drills, "clinic", repo.path, body=STANDARD_CHECKS)
    assert workspace.cli("run", "clinic", "--plain").returncode == 0
    shutil.rmtree(workspace.reports / "evidence")
    (workspace.reports / "clinic" / workspace.last_run("clinic")["run_id"] / "report.html").unlink()
    verify = workspace.cli("evidence", "verify")
    assert verify.returncode == 1 and "unrecorded" in verify.stdout + verify.stderr
    return workspace.last_run("clinic")


def _serve(workspace: Workspace) -> Serve:
    return Serve([sys.executable, "-m", "drillbook", "serve", "--concurrency", "1"], workspace.root,
                 workspace.env())


def _serve_briefly(workspace: Workspace) -> None:
    server = _serve(workspace)
    try:
        server.wait_for("serve-start")
        assert server.stop()[0] == 0
    finally:
        server.kill()


@pytest.mark.parametrize("command", ["cleanup", "run", "serve"])
def test_the_next_command_seals_a_finished_run_that_was_never_sealed(workspace: Workspace, repo: Repo,
                                                                    command: str) -> None:
    run = _unsealed_run(workspace, repo)
    if command == "serve":
        _serve_briefly(workspace)
    else:
        done = workspace.cli(*(["cleanup"] if command == "cleanup" else ["run", "clinic", "--plain"]))
        assert done.returncode == 0, done.stderr
        assert run["run_id"] in done.stdout + done.stderr and "never sealed" in done.stdout + done.stderr
    verify = workspace.cli("evidence", "verify")
    assert verify.returncode == 0, verify.stdout + verify.stderr
    folder = workspace.reports / "clinic" / run["run_id"]
    assert (folder / "report.html").exists()  # the report it never got was written before the seal
    assert json.loads((folder / "run.json").read_text()) == run  # a final record is never rewritten
