"""A real restic repository measured from its listing before restoring (as restic stats would count
it); the free space is injected."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from drillbook.drill.engine import DeclaredDrill, DrillRun, RunOptions
from drillbook.drill.seams import Seams
from drillbook.settings import Settings
from drillbook.spec.loader import load_drill
from tests.support import PASSWORD, PASSWORD_ENV, STANDARD_CHECKS, Repo, Workspace, write_drill

MIB = 1024 * 1024


def _run(workspace: Workspace, repo: Repo, monkeypatch: pytest.MonkeyPatch, seams: Seams) -> dict[str, Any]:
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    path = write_drill(workspace.drills, "clinic", repo.path, body=STANDARD_CHECKS)
    drill, problems = load_drill(path)
    assert drill is not None, problems
    settings = Settings(drills_dir=workspace.drills, reports_dir=workspace.reports,
                        sandbox_root=workspace.sandboxes, state_dir=workspace.state,
                        runbooks_dir=workspace.root / "runbooks")
    return DrillRun(DeclaredDrill(drill, path), settings, RunOptions(), lambda *_: None, seams).execute().record


def _restic_stats(repo: Repo, snapshot_id: str) -> dict[str, Any]:
    env = {**os.environ, "RESTIC_REPOSITORY": str(repo.path), "RESTIC_PASSWORD": repo.password}
    done = subprocess.run(["restic", "stats", "--no-cache", "--mode", "restore-size", "--json", snapshot_id],
                          env=env, capture_output=True, text=True, timeout=120, check=True)
    return json.loads(done.stdout)


@pytest.mark.restic_versions
def test_the_restore_size_restic_counts_is_recorded_with_the_free_space(workspace: Workspace, repo: Repo,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    record = _run(workspace, repo, monkeypatch, Seams())
    assert record["status"] == "passed", record["reason"]
    stats = _restic_stats(repo, record["snapshot"]["id"])
    restore = record["restore"]
    assert restore["size_bytes"] == stats["total_size"] > 0
    assert restore["file_count"] == stats["total_file_count"]
    assert restore["size_measured_by"] == "restic ls (the sizes of the snapshot's files)"
    assert restore["size_problem"] is None
    assert restore["free_bytes"] >= restore["needed_bytes"] > restore["size_bytes"]
    assert restore["free_on"] == str(workspace.sandboxes)


def test_a_filesystem_too_small_for_the_restore_fails_the_drill_before_it(workspace: Workspace, repo: Repo,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[Path] = []

    def nearly_full(path: Path) -> int:
        asked.append(path)
        return 3 * MIB

    record = _run(workspace, repo, monkeypatch, Seams(free_space=nearly_full))
    assert record["status"] == "failed"
    phases = {p["name"]: p["status"] for p in record["phases"]}
    assert phases["restore"] == "failed" and phases["verify content"] == "skipped"
    reason = record["reason"]
    assert reason.startswith("restore needs ")
    assert f" restored, plus 10% and 64 MiB to spare), 3.0 MiB free on {workspace.sandboxes}: " in reason
    assert record["restore"]["free_bytes"] == 3 * MIB and record["restore"]["size_bytes"] > 0
    assert [p.parent.parent for p in asked] == [workspace.sandboxes]
    assert list(workspace.sandboxes.iterdir()) == []  # nothing was restored, and the sandbox is gone
