"""Negative controls on a real restore in a real sandbox: checks that read the backup catch every
damage; a check that reads nothing (``true``) is named as proving nothing; the RTO stays the checks'."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.support import STANDARD_CHECKS, Workspace, make_repo, write_drill

pytestmark = pytest.mark.integration

LAX = STANDARD_CHECKS + """\
  - type: command
    name: portal answers
    run: ["true"]
"""


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, dict[str, dict[str, Any]]]:
    """One invocation, two drills: both with every check passing, one with a vacuous check."""
    tmp = tmp_path_factory.mktemp("controls")
    repo = make_repo(tmp)
    repo.backup()
    workspace = Workspace.made(tmp / "ws")
    write_drill(workspace.drills, "sound", repo.path, body=STANDARD_CHECKS)
    write_drill(workspace.drills, "lax", repo.path, body=LAX)
    result = workspace.cli("run", "--control", "sound", "lax")
    return result, {name: workspace.last_run(name) for name in ("sound", "lax")}


def test_files_and_sqlite_checks_catch_every_damage(runs: tuple[Any, dict[str, dict[str, Any]]]) -> None:
    _, records = runs
    sound = records["sound"]
    assert sound["status"] == "passed", sound["reason"]
    assert [(c["check"], c["damage"], c["caught"]) for c in sound["controls"]] == [
        ("files srv/clinic/docs", "an empty restore", True),
        ("files srv/clinic/docs", "a restore without srv/clinic/docs/letter-0001.txt", True),
        ("files srv/clinic/docs", "a restore with 9 files under srv/clinic/docs", True),
        ("sqlite srv/clinic/db/appointments.sqlite", "an empty restore", True),
        ("sqlite srv/clinic/db/appointments.sqlite",
         "a restore whose srv/clinic/db/appointments.sqlite is cut to half its size", True),
    ]
    phases = {p["name"]: p for p in sound["phases"]}
    assert phases["controls"]["detail"] == "2 of 2 checks proven to catch damage"


def test_a_true_command_fails_the_drill_naming_it(runs: tuple[Any, dict[str, dict[str, Any]]]) -> None:
    result, records = runs
    assert result.returncode == 1, result.stderr
    lax = records["lax"]
    assert lax["status"] == "failed"
    assert lax["reason"] == ("check 'portal answers' also passes on an empty restore: it proves nothing "
                             "about the backup")
    assert all(c["status"] == "passed" for c in lax["checks"])
    assert {c["check"]: c["caught"] for c in lax["controls"]}["portal answers"] is False


def test_controls_are_timed_apart_from_the_rto(runs: tuple[Any, dict[str, dict[str, Any]]]) -> None:
    sound = runs[1]["sound"]
    names = [p["name"] for p in sound["phases"]]
    assert names.index("controls") == names.index("checks") + 1
    until_checks = sum(p["duration_seconds"] for p in sound["phases"][:names.index("checks") + 1])
    controls = sound["phases"][names.index("controls")]["duration_seconds"]
    assert controls > 0
    assert sound["objectives"]["rto"]["measured_seconds"] <= until_checks + 0.5


def test_no_damaged_copy_outlives_the_run(runs: tuple[Any, dict[str, dict[str, Any]]]) -> None:
    sandboxes = [Path(r["process"]["sandbox"]) for r in runs[1].values()]
    assert sandboxes and not any(path.exists() for path in sandboxes)
