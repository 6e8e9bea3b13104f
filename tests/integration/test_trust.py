"""A folder another account controls is refused before anything is restored, recorded or signed.

The sandbox root used to default to a fixed name under /tmp, which any local account could make
first; root then restored snapshots (setuid files included) wherever that account pointed it.
"""

from __future__ import annotations

import os
import pwd
import subprocess
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support import STANDARD_CHECKS, Workspace, sandbox_base, write_drill

pytestmark = pytest.mark.integration

NOBODY = pwd.getpwnam("nobody").pw_uid


def owned_by_nobody(folder: Path) -> str:
    if os.geteuid() != 0:
        pytest.skip("giving a folder to another account needs root")
    os.chown(folder, NOBODY, -1)
    return "owned by nobody"


def world_writable(folder: Path) -> str:
    folder.chmod(0o777)
    return "writable"


@pytest.fixture(params=[owned_by_nobody, world_writable])
def squat(request: pytest.FixtureRequest) -> Callable[[Path], str]:
    return request.param


@pytest.fixture
def squatted(workspace: Workspace, squat: Callable[[Path], str]) -> tuple[Path, str]:
    """A sandbox root that another account made first, where every account can find it."""
    folder = sandbox_base() / f"squatted-{os.getpid()}-{workspace.root.parent.name}"
    folder.mkdir()
    return folder, squat(folder)


def test_run_refuses_a_squatted_sandbox_root_and_restores_nothing(workspace, repo, squatted) -> None:
    folder, problem = squatted
    write_drill(workspace.drills, "clinic", repo.path, body=STANDARD_CHECKS)
    result = workspace.cli("run", "clinic", DRILLBOOK_SANDBOX_ROOT=str(folder))
    assert result.returncode == 3, result.stderr
    assert f"sandbox root folder {folder}" in result.stderr and problem in result.stderr
    assert list(folder.iterdir()) == []  # nothing restored into it
    assert list(workspace.reports.iterdir()) == []  # no record: the drill never started


def test_serve_refuses_a_squatted_sandbox_root_at_start(workspace, repo, squatted) -> None:
    folder, problem = squatted
    write_drill(workspace.drills, "clinic", repo.path, body=STANDARD_CHECKS)
    try:
        result = workspace.cli("serve", timeout=30, DRILLBOOK_SANDBOX_ROOT=str(folder))
    except subprocess.TimeoutExpired:
        pytest.fail("serve started with a squatted sandbox root")
    assert result.returncode == 3 and f"sandbox root folder {folder}" in result.stderr and problem in result.stderr


def test_cleanup_refuses_a_squatted_state_folder(workspace, squat) -> None:
    problem = squat(workspace.state)
    result = workspace.cli("cleanup")
    assert result.returncode == 3, result.stderr
    assert f"state folder {workspace.state}" in result.stderr and problem in result.stderr


def test_runbook_run_refuses_a_squatted_reports_folder(workspace, squat) -> None:
    problem = squat(workspace.reports)
    runbooks = workspace.root / "runbooks"
    runbooks.mkdir()
    (runbooks / "notes.md").write_text(textwrap.dedent("""\
        ---
        title: Write notes
        owner: clinic-oncall@example.org
        objectives: {rto: 10m}
        ---
        # Write notes

        ## Say hello
        ```sh
        echo hello
        ```
        """))
    result = workspace.cli("runbook", "run", "notes", "--yes")
    assert result.returncode == 3, result.stdout + result.stderr
    assert f"reports folder {workspace.reports}" in result.stderr and problem in result.stderr
    assert list(workspace.reports.iterdir()) == []
