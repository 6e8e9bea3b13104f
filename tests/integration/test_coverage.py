"""``drillbook coverage`` and the period report's "Backups never drilled" on a real repository:
snapshots of three hosts, a drill for one, the other two listed."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.support import Workspace, make_repo, write_drill

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    tmp = tmp_path_factory.mktemp("coverage")
    repo = make_repo(tmp, files=3, rows=10)
    for host in ("clinic-1", "clinic-2", "lab-1"):
        repo.backup(host=host)
    repo.backup(host="clinic-1", tags=("nightly", "extra"))  # a drill's tags need only be among the snapshot's
    ws = Workspace.made(tmp / "ws")
    write_drill(ws.drills, "clinic", repo.path)  # selects host clinic-1, tag nightly
    (ws.root / "backed-up").write_text(str(repo.data_root / "srv"))
    return ws


def test_the_hosts_no_drill_selects_are_listed(workspace: Workspace) -> None:
    result = workspace.cli("coverage", "--json")
    assert result.returncode == 0, result.stderr
    data: dict[str, Any] = json.loads(result.stdout)
    assert [(r["drills"], r["snapshots"], r["groups"], r["error"]) for r in data["repositories"]] == [
        (["clinic"], 4, 4, None)]
    assert sorted(g["host"] for g in data["uncovered"]) == ["clinic-2", "lab-1"]
    for group in data["uncovered"]:
        assert group["paths"] == [(workspace.root / "backed-up").read_text()] and group["tags"] == ["nightly"]
        assert datetime.fromisoformat(group["latest"]) <= datetime.now(UTC)
        assert group["repository"] == data["repositories"][0]["repository"]


def test_strict_exits_1_when_a_backup_is_never_drilled(workspace: Workspace) -> None:
    result = workspace.cli("coverage", "--strict", "--since", "7d")
    assert result.returncode == 1, result.stderr
    assert "never drilled:" in result.stdout and "host lab-1" in result.stdout


def test_a_bad_window_is_bad_input(workspace: Workspace) -> None:
    result = workspace.cli("coverage", "--since", "a while")
    assert result.returncode == 2 and "--since" in result.stderr


def test_the_period_report_has_the_same_section(workspace: Workspace) -> None:
    now = datetime.now(UTC)
    period = f"{now.year}Q{(now.month - 1) // 3 + 1}"
    assert workspace.cli("report", "--period", period).returncode == 0
    data = json.loads((workspace.reports / f"compliance-{period}.json").read_text())
    assert sorted(g["host"] for g in data["never_drilled"]["uncovered"]) == ["clinic-2", "lab-1"]
    markdown = (workspace.reports / f"compliance-{period}.md").read_text()
    section = markdown.split("## Backups never drilled", 1)[1]
    assert f"| lab-1 | {(workspace.root / 'backed-up').read_text()} | nightly |" in section and "clinic-2" in section
    assert "Backups never drilled" in (workspace.reports / f"compliance-{period}.html").read_text()
