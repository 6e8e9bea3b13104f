"""A service is always stopped and its leftovers swept; readiness notices a service that died."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from drillbook.checks.base import CheckContext
from drillbook.checks.services.lifecycle import ServiceFailed, running_service, service_env, wait_until_ready
from tests.unit.checks.fakes import FakeService, ScriptedLauncher


def _ctx(tmp_path: Path, launcher: ScriptedLauncher) -> CheckContext:
    return CheckContext(tmp_path / "restore", tmp_path / "work", launcher, env={"A": "drill", "B": "drill"})


def test_the_check_env_wins_over_the_drill_env_and_names_the_restore(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path, ScriptedLauncher())
    assert service_env(ctx, {"B": "check"}) == {"A": "drill", "B": "check",
                                                "DRILLBOOK_RESTORE_ROOT": str(tmp_path / "restore")}


def test_a_started_service_is_stopped_and_swept_even_when_the_check_fails(tmp_path: Path) -> None:
    launcher = ScriptedLauncher()
    with pytest.raises(ServiceFailed), running_service(["./portal"], _ctx(tmp_path, launcher), {}) as service:
        assert service is launcher.service
        raise ServiceFailed("no answer")
    assert isinstance(launcher.service, FakeService) and launcher.service.stopped_with == signal.SIGTERM
    assert launcher.sweeps == 1 and launcher.calls[0].cwd == tmp_path / "restore"


def test_without_start_nothing_is_started(tmp_path: Path) -> None:
    launcher = ScriptedLauncher()
    with running_service(None, _ctx(tmp_path, launcher), {}) as service:
        assert service is None
    assert launcher.calls == [] and launcher.sweeps == 0


def test_a_missing_program_is_a_failed_service(tmp_path: Path) -> None:
    launcher = ScriptedLauncher(service=FileNotFoundError(2, "No such file", "./portal"))
    with pytest.raises(ServiceFailed, match=r"^\./portal: program not found$"), \
            running_service(["./portal"], _ctx(tmp_path, launcher), {}):
        pass


def test_readiness_counts_attempts_until_the_answer_is_right() -> None:
    answers = iter([{"answered": False, "error": "refused"}, {"answered": True, "status": 503},
                    {"answered": True, "status": 200}])
    ready = wait_until_ready(FakeService(), lambda window: next(answers), 10.0,
                             lambda a: a.get("status") == 200, "http://localhost/")
    assert ready.attempts == 3 and ready.answer["status"] == 200 and ready.output == []


def test_a_service_that_exits_fails_at_once_with_its_output() -> None:
    dead = FakeService(exit_code=2, output=["port 8080 already in use"])
    with pytest.raises(ServiceFailed) as failed:
        wait_until_ready(dead, lambda window: {"answered": False}, 60.0, lambda a: False, "localhost:8080")
    assert failed.value.reason == "the service exited with code 2 before localhost:8080 answered"
    assert failed.value.output == ["port 8080 already in use"]


def test_no_answer_at_all_fails_with_the_last_error() -> None:
    with pytest.raises(ServiceFailed, match=r"^no answer from localhost:8080 within .* \(last: refused\)$"):
        wait_until_ready(None, lambda window: {"answered": False, "error": "refused"}, 0.2,
                         lambda a: False, "localhost:8080")


def test_a_wrong_answer_at_the_deadline_is_returned_for_the_check_to_judge() -> None:
    service = FakeService(output=["starting"])
    ready = wait_until_ready(service, lambda window: {"answered": True, "status": 503}, 0.2,
                             lambda a: a.get("status") == 200, "http://localhost/")
    assert ready.answer["status"] == 503 and ready.output == ["starting"]
