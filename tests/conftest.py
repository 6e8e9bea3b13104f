from __future__ import annotations

from pathlib import Path

import pytest

from tests.support import Repo, Workspace, make_repo


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
