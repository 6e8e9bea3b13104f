"""Running drills in order for a command: one copy for `drillbook run` and runbook drill steps."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from drillbook.drill import batch
from drillbook.drill.engine import DeclaredDrill, DrillOutcome, RunOptions
from drillbook.drill.overrun import OverrunGuard
from drillbook.errors import BadInput, CannotRun
from drillbook.settings import Settings
from drillbook.spec import loader
from drillbook.spec.loader import load_drills
from drillbook.spec.models import ProjectConfig
from tests.support import write_drill


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    s = Settings(drills_dir=tmp_path / "drills", reports_dir=tmp_path / "reports",
                 sandbox_root=tmp_path / "sandboxes", state_dir=tmp_path / "state")
    for name in ("alpha", "bravo", "charlie"):
        write_drill(s.drills_dir, name, "/nowhere/repo")
    return s


class FakeEngine:
    """Stands in for run_drill: each drill ends with the status it is given."""

    def __init__(self, statuses: dict[str, str]):
        self.statuses = statuses
        self.calls: list[tuple[DeclaredDrill, RunOptions, Any]] = []

    def __call__(self, target: DeclaredDrill, settings: Settings, options: RunOptions,
                 observer: Any) -> DrillOutcome:
        self.calls.append((target, options, observer))
        name = target.drill.name
        return DrillOutcome({"drill": name, "run_id": f"run-{name}", "status": self.statuses.get(name, "passed")},
                            settings.reports_dir / name / f"run-{name}")


def run(settings: Settings, monkeypatch: pytest.MonkeyPatch, statuses: dict[str, str],
        **kwargs: Any) -> tuple[list[str], FakeEngine, list[str]]:
    engine = FakeEngine(statuses)
    monkeypatch.setattr(batch, "run_drill", engine)
    heard: list[str] = []
    drills = load_drills(settings.drills_dir)
    outcomes = batch.run_drills(drills, ["alpha", "bravo", "charlie"], settings, RunOptions(trigger="t"),
                                on_outcome=lambda o: heard.append(o.record["drill"]), **kwargs)
    return [o.record["drill"] for o in outcomes], engine, heard


def test_every_drill_runs_in_order_and_is_reported_as_it_ends(settings, monkeypatch) -> None:
    ran, engine, heard = run(settings, monkeypatch, {"bravo": "failed"})
    assert ran == heard == ["alpha", "bravo", "charlie"]
    target, options, _ = engine.calls[0]
    assert options.trigger == "t"
    assert target.file == settings.drills_dir / "alpha.yaml" and target.project == ProjectConfig()


def test_an_aborted_run_stops_the_batch(settings, monkeypatch) -> None:
    ran, _, heard = run(settings, monkeypatch, {"bravo": "aborted"})
    assert ran == heard == ["alpha", "bravo"]


def test_a_failure_stops_the_batch_only_when_asked(settings, monkeypatch) -> None:
    ran, _, _ = run(settings, monkeypatch, {"alpha": "failed"}, stop_on_failure=True)
    assert ran == ["alpha"]


def test_each_drill_runs_under_the_overrun_guard_with_the_callers_observer(settings, monkeypatch) -> None:
    engine = FakeEngine({})
    monkeypatch.setattr(batch, "run_drill", engine)
    heard: list[tuple[str, str]] = []
    batch.run_drills(load_drills(settings.drills_dir), ["alpha"], settings, RunOptions(stop_after_rto=3),
                     lambda event, name, info: heard.append((event, name)))
    guard = engine.calls[0][2]
    assert isinstance(guard, OverrunGuard) and guard.limit == 3 * 600
    guard("phase-end", "checks", {})  # disarms the timer and passes the event on
    assert heard == [("phase-end", "checks")]


def test_drillbook_yaml_travels_with_each_drill(settings, monkeypatch) -> None:
    (settings.drills_dir / "drillbook.yaml").write_text("notify:\n  - command: [\"true\"]\n")
    _, engine, _ = run(settings, monkeypatch, {})
    assert [t.command for t in engine.calls[0][0].project.notify] == [["true"]]


def test_load_checked_ignores_other_drills_problems_but_not_the_named_ones(settings) -> None:
    (settings.drills_dir / "broken.yaml").write_text("objectives: nope\n")
    assert "alpha" in batch.load_checked(settings, ["alpha"]).drills
    with pytest.raises(BadInput) as bad:
        batch.load_checked(settings, ["broken"])
    assert {p.file.name for p in bad.value.problems} == {"broken.yaml"}


def test_ensure_folders_reads_drillbook_yaml_and_no_drill_file(settings, monkeypatch) -> None:
    """The folders depend on the project's settings only: no drill file may keep them from being made."""
    (settings.drills_dir / "drillbook.yaml").write_text("reports: {group: no-such-group-here}\n")

    def unreadable(path: Path) -> None:
        raise RuntimeError(f"{path} was read")

    monkeypatch.setattr(loader, "load_drill", unreadable)
    with pytest.raises(CannotRun, match=r"reports\.group no-such-group-here in drillbook\.yaml"):
        batch.ensure_folders(settings)


def test_ensure_can_run_needs_restic(settings, monkeypatch) -> None:
    monkeypatch.setenv("DRILLBOOK_RESTIC", str(settings.drills_dir / "no-restic"))
    with pytest.raises(CannotRun, match="restic is not installed"):
        batch.ensure_can_run(settings)
