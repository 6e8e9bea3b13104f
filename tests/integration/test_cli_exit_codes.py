"""Exit codes: 2 for bad input (nothing run, no record), 3 when drillbook cannot run."""

import os
from pathlib import Path

from tests.support import STANDARD_CHECKS, write_drill


def test_unknown_drill_is_bad_input_and_writes_nothing(workspace, repo):
    write_drill(workspace.drills, "clinic", repo.path, body=STANDARD_CHECKS)
    result = workspace.cli("run", "clinc")
    assert result.returncode == 2
    assert 'no drill named "clinc"' in result.stderr and "clinic" in result.stderr
    assert list(workspace.reports.iterdir()) == []


def test_spec_errors_of_all_files_at_once(workspace, repo):
    write_drill(workspace.drills, "one", repo.path, rto="ten minutes")
    write_drill(workspace.drills, "two", repo.path, body="verify:\n  - type: nope\n")
    result = workspace.cli("validate")
    assert result.returncode == 2
    assert f'{workspace.drills / "one.yaml"}:3:14: objectives.rto: "ten minutes" is not a duration' in result.stderr
    assert f'{workspace.drills / "two.yaml"}:9:5: verify[0]: unknown check type "nope"' in result.stderr
    assert workspace.cli("run", "one").returncode == 2
    assert list(workspace.reports.iterdir()) == []


def test_validate_ok(workspace, repo):
    write_drill(workspace.drills, "clinic", repo.path, body=STANDARD_CHECKS)
    result = workspace.cli("validate")
    assert result.returncode == 0 and "1 drill(s) valid" in result.stdout


def test_restic_missing_is_exit_3(workspace, repo, tmp_path):
    write_drill(workspace.drills, "clinic", repo.path, body=STANDARD_CHECKS)
    result = workspace.cli("run", "clinic", DRILLBOOK_RESTIC=str(tmp_path / "no-restic"))
    assert result.returncode == 3 and "restic is not installed" in result.stderr


def test_reports_not_writable_is_exit_3(workspace, repo, tmp_path):
    write_drill(workspace.drills, "clinic", repo.path, body=STANDARD_CHECKS)
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    result = workspace.cli("run", "clinic", DRILLBOOK_REPORTS=str(blocker / "reports"))
    assert result.returncode == 3 and "not writable" in result.stderr


def test_list_shows_objectives(workspace, repo):
    write_drill(workspace.drills, "clinic", repo.path, body=STANDARD_CHECKS)
    result = workspace.cli("list")
    assert result.returncode == 0 and "clinic" in result.stdout and "10m" in result.stdout


def test_list_shows_a_relative_repository_resolved_and_hides_credentials(workspace, repo):
    relative = os.path.relpath(repo.path, workspace.drills)
    write_drill(workspace.drills, "clinic", relative, body=STANDARD_CHECKS)
    write_drill(workspace.drills, "remote", '"rest:https://clinic:hunter2@127.0.0.1:9/repo"')
    result = workspace.cli("list", COLUMNS="400")
    assert result.returncode == 0, result.stderr
    assert f"{relative} (= {Path(repo.path).resolve()})" in result.stdout
    assert "hunter2" not in result.stdout and "clinic:***@127.0.0.1" in result.stdout


def test_run_all_runs_every_drill_and_names_are_required_otherwise(workspace, repo):
    write_drill(workspace.drills, "one", repo.path, body=STANDARD_CHECKS)
    write_drill(workspace.drills, "two", repo.path, body=STANDARD_CHECKS, snapshot="{tags: [monthly]}")
    result = workspace.cli("run", "--all")
    assert result.returncode == 1  # "two" finds no monthly snapshot
    assert workspace.last_run("one")["status"] == "passed"
    assert workspace.last_run("two")["status"] == "failed"
    assert workspace.cli("run").returncode == 2
    assert workspace.cli("run", "--all", "one").returncode == 2


def test_run_all_with_no_drills_is_bad_input(workspace):
    result = workspace.cli("run", "--all")
    assert result.returncode == 2 and "no drills are declared" in result.stderr
