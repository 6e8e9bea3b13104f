"""Review finding: a files check's ``required`` entries are paths inside the restore too."""

from __future__ import annotations

from pathlib import Path

from drillbook.spec.loader import load_drill

DRILL = """\
objectives: {rto: 10m, rpo: 1d}
source:
  repository: /srv/backup/repo
  password: {env: PW}
verify:
  - type: files
    path: srv/portal
    required:
      - {entry}
"""


def _problems(tmp_path: Path, entry: str) -> list:
    path = tmp_path / "portal.yaml"
    path.write_text(DRILL.replace("{entry}", entry))
    drill, problems = load_drill(path)
    assert drill is None
    return problems


def test_absolute_required_path_is_a_spec_error_with_its_line(tmp_path: Path) -> None:
    """``/srv/portal/db/portal.sqlite`` would otherwise be checked on the live host."""
    (problem,) = _problems(tmp_path, "/srv/portal/db/portal.sqlite")
    assert problem.line == 9
    assert "relative to the restore root" in problem.message


def test_required_path_may_not_climb_out(tmp_path: Path) -> None:
    (problem,) = _problems(tmp_path, "../../../../etc/passwd")
    assert problem.line == 9
    assert ".." in problem.message
