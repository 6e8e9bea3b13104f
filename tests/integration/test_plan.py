"""``drillbook plan`` against a real restic repository: what a run would do, with nothing written."""

from __future__ import annotations

import json

from tests.support import PASSWORD, STANDARD_CHECKS, Repo, Workspace, write_drill

WRONG_PATH = """\
verify:
  - type: files
    path: clinic/docs
    min_count: 10
"""


def assert_nothing_written(workspace: Workspace) -> None:
    """No run folder, no ledger, no index, no sandbox, no lock: plan is read-only."""
    for folder in (workspace.reports, workspace.sandboxes, workspace.state):
        assert not folder.exists() or list(folder.iterdir()) == [], f"{folder} was written to"


def test_a_correct_drill_shows_its_snapshot_and_where_it_restores(workspace: Workspace, repo: Repo) -> None:
    write_drill(workspace.drills, "clinic", repo.path, body=STANDARD_CHECKS)
    short_id = repo.builder().snapshots()[0]["short_id"]
    result = workspace.cli("plan", "clinic")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "clinic: ready" in result.stdout
    assert short_id in result.stdout and "within the RPO of 1d" in result.stdout
    assert f"{workspace.sandboxes}/<run id>/restore/srv" in result.stdout
    assert "srv/clinic/db/appointments.sqlite is in the snapshot" in result.stdout
    assert_nothing_written(workspace)


def test_a_wrong_password_names_its_source_and_writes_nothing(workspace: Workspace, repo: Repo) -> None:
    write_drill(workspace.drills, "clinic", repo.path, body=STANDARD_CHECKS)
    result = workspace.cli("plan", "clinic", TEST_RESTIC_PASSWORD="not-the-password-xyz")
    assert result.returncode == 1
    assert "wrong repository password" in result.stdout
    assert "the password came from env TEST_RESTIC_PASSWORD" in result.stdout
    assert "not-the-password-xyz" not in result.stdout + result.stderr
    assert_nothing_written(workspace)


def test_a_wrong_host_explains_the_mismatch_and_lists_the_hosts(workspace: Workspace, repo: Repo) -> None:
    write_drill(workspace.drills, "clinic", repo.path, body=STANDARD_CHECKS, snapshot="{host: clinic-9}")
    result = workspace.cli("plan", "clinic")
    assert result.returncode == 1
    assert "no snapshot matches host=clinic-9" in result.stdout and "hosts: clinic-1" in result.stdout
    assert_nothing_written(workspace)


def test_a_wrong_check_path_is_offered_the_path_under_the_snapshots_prefix(workspace: Workspace,
                                                                          repo: Repo) -> None:
    write_drill(workspace.drills, "clinic", repo.path, body=WRONG_PATH)
    result = workspace.cli("plan", "clinic", "--json")
    assert result.returncode == 1
    plan = json.loads(result.stdout)["drills"][0]
    answer = plan["checks"][0]["paths"][0]
    assert answer["path"] == "clinic/docs" and not answer["found"]
    assert answer["suggestions"][0] == "srv/clinic/docs"
    assert plan["top_level"] == ["srv"] and plan["snapshot"]["host"] == "clinic-1"
    assert PASSWORD not in result.stdout
    text = workspace.cli("plan", "clinic").stdout
    assert "clinic/docs is NOT in the snapshot; did you mean srv/clinic/docs?" in text
    assert_nothing_written(workspace)


def test_an_unknown_drill_is_bad_input(workspace: Workspace, repo: Repo) -> None:
    write_drill(workspace.drills, "clinic", repo.path, body=STANDARD_CHECKS)
    result = workspace.cli("plan", "clinc")
    assert result.returncode == 2 and 'no drill named "clinc"' in result.stderr
    assert_nothing_written(workspace)
