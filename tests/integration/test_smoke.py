from tests.support import STANDARD_CHECKS, write_drill


def test_a_good_drill_passes_and_writes_reports(workspace, repo):
    write_drill(workspace.drills, "clinic", repo.path, body=STANDARD_CHECKS)
    result = workspace.cli("run", "clinic")
    assert result.returncode == 0, result.stderr
    run = workspace.last_run("clinic")
    assert run["status"] == "passed"
    assert run["content"]["files_expected"] == run["content"]["files_verified"] > 20
    assert (workspace.reports / "clinic" / run["run_id"] / "report.html").exists()
    assert not any(workspace.sandboxes.iterdir())
