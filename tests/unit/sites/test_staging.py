"""A worker's own copies of finished run folders: gone once the central side has them, or when old."""

import json
import os
import time
from pathlib import Path

from drillbook.settings import Settings
from drillbook.sites import staging, worker

DAY = 86400.0


def worker_settings(tmp_path: Path) -> Settings:
    return Settings(drills_dir=tmp_path / "drills", reports_dir=tmp_path / "reports", state_dir=tmp_path / "state",
                    sandbox_root=tmp_path / "sandboxes", runbooks_dir=tmp_path / "runbooks")


def staged(settings: Settings, run_id: str, status: str = "passed", age_days: float = 0.0,
           claimed: bool = True) -> Path:
    """A run folder as the engine leaves it; ``claimed``: a run dispatched to this worker."""
    if claimed:
        assert staging.claim(settings.state_dir, run_id)
    folder = settings.reports_dir / "east-docs" / run_id
    folder.mkdir(parents=True)
    (folder / "run.json").write_text(json.dumps({"run_id": run_id, "drill": "east-docs", "status": status}))
    (folder / "report.html").write_text("<html></html>")
    then = time.time() - age_days * DAY
    for path in (folder / "run.json", folder / "report.html", folder):
        os.utime(path, (then, then))
    return folder


def test_copies_the_central_side_received_go_and_others_stay_until_old(tmp_path):
    settings = worker_settings(tmp_path)
    received = staged(settings, "r1")
    waiting = staged(settings, "r2")  # sent, the central side has not taken it yet
    lost = staged(settings, "r3", status="aborted")  # killed mid-run, never sent: the site's only full copy
    old = staged(settings, "r4", status="aborted", age_days=8)
    running = staged(settings, "r5", status="running", age_days=8)  # never removed under a run
    local = staged(settings, "r6", age_days=30, claimed=False)  # `drillbook run` here: not the worker's
    for run_id in ("r1", "r2"):
        staging.mark_sent(settings.state_dir, "east-docs", run_id)
    gone = staging.prune(settings, received=lambda run_id: run_id == "r1", keep=7 * DAY)
    assert sorted(gone) == sorted([received, old])
    assert not received.exists() and not old.exists()
    assert waiting.exists() and lost.exists() and running.exists() and local.exists()
    assert staging.prune(settings, received=lambda run_id: True, keep=7 * DAY) == [waiting]  # taken now


def test_the_broker_away_removes_nothing(tmp_path):
    settings = worker_settings(tmp_path)
    folder = staged(settings, "r1")
    staging.mark_sent(settings.state_dir, "east-docs", "r1")

    def unreachable(_run_id: str) -> bool:
        raise ConnectionError("broker away")

    assert staging.prune(settings, received=unreachable, keep=7 * DAY) == [] and folder.exists()


def test_a_run_the_worker_sends_back_is_marked_sent(tmp_path, monkeypatch):
    settings = worker_settings(tmp_path)
    monkeypatch.setattr(worker, "_run", lambda *_args: b"packed")
    answer = worker.run_dispatched(settings, "clinic-east", "clinic-east@host", 60.0,
                                   {"drill": "east-docs", "run_id": "r1", "site": "clinic-east"}, lambda _meta: None)
    assert answer is not None and "folder" in answer
    assert staging.sent(settings.state_dir) == {"r1": "east-docs"}
