"""A reader that goes away (``drillbook run ... | head -1``) never stops a run: it ends, is
recorded and sealed as if its output had been read."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.support import STANDARD_CHECKS, write_drill


def _run_with_stdout_closed(workspace, *args: str) -> subprocess.CompletedProcess[str]:
    """stdout is a pipe whose reading end is closed before drillbook writes anything."""
    proc = subprocess.Popen([sys.executable, "-m", "drillbook", *args], cwd=workspace.root,
                            env=workspace.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()
    stderr = proc.stderr.read()
    return subprocess.CompletedProcess(proc.args, proc.wait(timeout=300), "", stderr)


def test_a_drill_whose_reader_went_away_is_recorded_and_sealed(workspace, repo):
    write_drill(workspace.drills, "clinic", repo.path, body=STANDARD_CHECKS)
    done = _run_with_stdout_closed(workspace, "run", "clinic", "--plain")
    assert done.returncode == 0, done.stderr
    [record] = workspace.runs("clinic")
    assert record["status"] == "passed"
    ledger = (workspace.reports / "evidence" / "ledger.jsonl").read_text().splitlines()
    assert [json.loads(line)["run_id"] for line in ledger] == [record["run_id"]]
    assert "Traceback" not in done.stderr


def test_a_runbook_whose_reader_went_away_is_recorded_and_sealed(workspace, repo):
    runbooks = workspace.root / "runbooks"
    runbooks.mkdir()
    (runbooks / "quick.md").write_text("# Quick\n\n## Say hello\n\n```sh\necho hello\n```\n")
    done = _run_with_stdout_closed(workspace, "runbook", "run", "quick", "--yes")
    assert done.returncode == 0, done.stderr
    [record_path] = (workspace.reports / "runbooks" / "quick").glob("*/run.json")
    assert json.loads(record_path.read_text())["status"] == "passed"
    assert (workspace.reports / "evidence" / "ledger.jsonl").read_text().count("\n") == 1
