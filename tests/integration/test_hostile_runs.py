"""Runs that hostile data or a hostile clock would once have turned green, broken or stuck."""

from __future__ import annotations

from tests.support import STANDARD_CHECKS, Repo, Workspace, write_drill


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
