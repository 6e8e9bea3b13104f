"""The central side with Celery replaced by a fake at its seam (the ``celeryapp`` module)."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from drillbook.settings import Settings
from drillbook.sites import central as central_module
from drillbook.sites.celeryapp import TaskView
from drillbook.sites.central import Central
from drillbook.sites.outbox import State
from drillbook.spec.loader import load_project
from drillbook.status import Status
from tests.support import write_drill


@dataclass
class FakeCelery:
    """What the result backend says of each run, and what the central side asked of it."""

    LOST_BEATS = 3
    views: dict[str, TaskView] = field(default_factory=dict)
    published: list[str] = field(default_factory=list)
    revoked: list[str] = field(default_factory=list)
    received: list[str] = field(default_factory=list)

    def publish(self, _app: Any, _payload: dict[str, Any], _site: str, task_id: str) -> None:
        self.published.append(task_id)

    def view(self, _app: Any, task_id: str) -> TaskView:
        return self.views.get(task_id, TaskView("PENDING"))

    def stop(self, _app: Any, task_id: str) -> None:
        self.revoked.append(task_id)

    def mark_received(self, _app: Any, task_id: str) -> None:
        self.received.append(task_id)


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeCelery:
    celery = FakeCelery()
    monkeypatch.setattr(central_module, "celeryapp", celery)
    return celery


def make_central(tmp_path: Path, **options: Any) -> Central:
    drills = tmp_path / "drills"
    write_drill(drills, "east-docs", "/nowhere/repo", rto="1m", body="site: clinic-east\n")
    (drills / "drillbook.yaml").write_text("workers: {broker: 'redis://127.0.0.1:9/0', heartbeat: 1s}\n")
    settings = Settings(drills_dir=drills, reports_dir=tmp_path / "reports", state_dir=tmp_path / "state",
                        sandbox_root=tmp_path / "sandboxes", runbooks_dir=tmp_path / "runbooks")
    project = load_project(drills)[0]
    return Central(settings, project, app=object(), **options)


def beating(run_id: str, started: float, now: float) -> TaskView:
    return TaskView("STARTED", {"drill": "east-docs", "run_id": run_id, "worker": "clinic-east@host",
                                "started": started, "beat": now})


def test_a_run_that_beats_past_3_x_rto_is_stopped_and_recorded_aborted_naming_the_limit(tmp_path, fake, monkeypatch):
    central = make_central(tmp_path, overrun_margin=5.0)
    drill = central_module.load_drills(central.settings.drills_dir).drills["east-docs"]
    run_id = central.dispatch(drill, "schedule").run_id
    assert run_id is not None
    now = time.time()
    fake.views[run_id] = beating(run_id, started=now - 120, now=now)  # 2 x RTO: still allowed
    assert central.poll() == [] and fake.revoked == []
    later = now + 66  # 186s after it started: past 3 x RTO and the margin, its heartbeat still fresh
    monkeypatch.setattr(central_module, "time", SimpleNamespace(time=lambda: later))
    fake.views[run_id] = beating(run_id, started=now - 120, now=later)
    closed = central.poll()
    assert [row.run_id for row in closed] == [run_id] and fake.revoked == [run_id]
    row = central.outbox.get(run_id)
    assert row is not None and row.state == State.OVERRUN and row.status == Status.ABORTED
    record = json.loads((tmp_path / "reports" / "east-docs" / run_id / "run.json").read_text())
    assert record["status"] == "aborted" and record["site"]["worker"] == "clinic-east@host"
    assert "3 x its RTO (1m)" in record["reason"] and "clinic-east@host" in record["reason"]
    assert "still sending heartbeats" in record["reason"]
    assert central.poll() == []  # closed once: a late result changes nothing
    assert fake.revoked == [run_id]


def test_the_limit_is_the_one_the_run_was_dispatched_with(tmp_path, fake):
    central = make_central(tmp_path, overrun_margin=0.0)
    drill = central_module.load_drills(central.settings.drills_dir).drills["east-docs"]
    run_id = central.dispatch(drill, "schedule", overrun_factor=10.0).run_id
    assert run_id is not None
    now = time.time()
    fake.views[run_id] = beating(run_id, started=now - 5 * 60, now=now)  # past 3 x RTO, within 10 x
    assert central.poll() == [] and fake.revoked == []
    assert central.outbox.get(run_id).state == State.STARTED  # type: ignore[union-attr]
