"""One run per drill: a second attempt is refused at once naming the holder, or waits for it."""

from __future__ import annotations

import multiprocessing
import time
from pathlib import Path

import pytest

from drillbook.drill import runlock
from drillbook.drill.engine import RunOptions
from drillbook.drill.runlock import DrillBusy, Holder
from drillbook.errors import CannotRun
from tests.unit.drill.fakes import Harness, password_env

FIRST = Holder(4242, "20260101T000000Z-first1", "schedule", "2026-01-01T00:00:00Z")
SECOND = Holder(4343, "20260101T000100Z-secnd2", "manual", "2026-01-01T00:01:00Z")


def _hold(state: str, seconds: float, ready: multiprocessing.synchronize.Event) -> None:
    with runlock.held(Path(state), "clinic", FIRST):
        ready.set()
        time.sleep(seconds)


def test_a_second_run_of_a_drill_is_refused_at_once_naming_the_holder(tmp_path: Path) -> None:
    with runlock.held(tmp_path, "clinic", FIRST):
        started = time.monotonic()
        with pytest.raises(DrillBusy) as busy, runlock.held(tmp_path, "clinic", SECOND):
            pytest.fail("two runs of one drill held its lock")
        assert time.monotonic() - started < 2
        assert runlock.busy_with(tmp_path, "clinic") == busy.value.holder
    message = str(busy.value)
    assert 'drill "clinic" is already being run' in message
    assert "pid 4242" in message and "run 20260101T000000Z-first1" in message and "schedule" in message
    assert "--wait-lock" in message
    assert isinstance(busy.value, CannotRun) and busy.value.exit_code == 3
    with runlock.held(tmp_path, "other", SECOND):  # another drill is not held up
        pass


def test_the_lock_file_stays_owner_only_and_is_reusable_after_the_run(tmp_path: Path) -> None:
    with runlock.held(tmp_path, "clinic", FIRST):
        pass
    path = runlock.lock_path(tmp_path, "clinic")
    assert path.exists() and path.stat().st_mode & 0o777 == 0o600
    assert path.read_text() == ""  # no stale holder named after the run
    assert runlock.busy_with(tmp_path, "clinic") is None
    with runlock.held(tmp_path, "clinic", SECOND):
        assert "4343" in path.read_text()


def test_waiting_runs_once_the_holder_ends_and_hears_who_it_waits_for(tmp_path: Path) -> None:
    ready = multiprocessing.Event()
    holder = multiprocessing.Process(target=_hold, args=(str(tmp_path), 1.5, ready))
    holder.start()
    assert ready.wait(10)
    heard: list[str] = []
    with runlock.held(tmp_path, "clinic", SECOND, wait=30, on_wait=heard.append):
        assert "4343" in runlock.lock_path(tmp_path, "clinic").read_text()
    holder.join()
    assert len(heard) == 1 and "pid 4242" in heard[0]


def test_waiting_gives_up_after_its_limit(tmp_path: Path) -> None:
    with runlock.held(tmp_path, "clinic", FIRST):
        started = time.monotonic()
        with pytest.raises(DrillBusy, match=r"stayed locked for 1\.\d s.*longer --wait-lock"), \
                runlock.held(tmp_path, "clinic", SECOND, wait=1.2):
            pytest.fail("waited past its limit")
        assert 1.1 < time.monotonic() - started < 3


def test_the_engine_holds_the_lock_for_the_whole_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in password_env().items():
        monkeypatch.setenv(name, value)
    harness = Harness(tmp_path)
    seen: list[str | None] = []
    harness.observe = lambda event, name, info: seen.append(  # type: ignore[method-assign]
        runlock.busy_with(harness.settings.state_dir, "clinic"))
    record = harness.run()
    assert record["status"] == "passed"
    assert seen and all(holder and record["run_id"] in holder for holder in seen)
    assert runlock.busy_with(harness.settings.state_dir, "clinic") is None


def test_the_engine_refuses_a_held_drill_before_it_records_anything(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in password_env().items():
        monkeypatch.setenv(name, value)
    harness = Harness(tmp_path)
    with runlock.held(harness.settings.state_dir, "clinic", FIRST), \
            pytest.raises(DrillBusy, match="pid 4242"):
        harness.run()
    assert not list(harness.settings.reports_dir.glob("clinic/*/run.json"))
    assert harness.sandboxes.made == []


def test_the_engine_waits_when_told_and_measures_rto_from_its_start(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in password_env().items():
        monkeypatch.setenv(name, value)
    harness = Harness(tmp_path)
    ready = multiprocessing.Event()
    held = 4.0  # long beside the faked run, so that a loaded machine cannot blur the two
    holder = multiprocessing.Process(target=_hold, args=(str(harness.settings.state_dir), held, ready))
    holder.start()
    assert ready.wait(10)
    record = harness.run(options=RunOptions(wait_lock=30))
    holder.join()
    assert record["status"] == "passed"
    assert ("lock-wait", "clinic") in [(e, n) for e, n, _ in harness.events]
    assert record["objectives"]["rto"]["measured_seconds"] < held - 1.0  # the wait is not recovery time
