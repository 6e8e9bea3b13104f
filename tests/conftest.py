from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.support import RESTIC_UNDER_TEST, Repo, Workspace, make_repo


@pytest.fixture(autouse=True)
def _restic_under_test_is_there(request: pytest.FixtureRequest) -> None:
    """A test marked restic_versions run against a restic that is not there: in CI a failure (the
    newer restic would go untested), on a developer's machine a skip (make restic-0.18 fetches it)."""
    chosen = os.environ.get(RESTIC_UNDER_TEST)
    if not chosen or request.node.get_closest_marker("restic_versions") is None or os.access(chosen, os.X_OK):
        return
    problem = f"{RESTIC_UNDER_TEST}={chosen} is not an executable restic (make restic-0.18 fetches restic 0.18)"
    if os.environ.get("CI") == "true":
        pytest.fail(problem)
    pytest.skip(problem)


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    ws = Workspace(tmp_path / "ws")
    for folder in (ws.drills, ws.reports, ws.sandboxes, ws.state):
        folder.mkdir(parents=True)
    return ws


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    """A real restic repository with one nightly snapshot of the sample clinic data."""
    r = make_repo(tmp_path)
    r.backup()
    return r
