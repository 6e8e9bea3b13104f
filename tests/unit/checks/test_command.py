"""``command``: exit 0 passes; everything else fails with the reason, output scrubbed."""

from __future__ import annotations

from pathlib import Path

from drillbook.checks.base import CheckContext
from drillbook.checks.command import check_command
from drillbook.spec.models import CommandCheck
from drillbook.status import Status
from tests.unit.checks.fakes import ScriptedLauncher, completed


def _ctx(tmp_path: Path, launcher: ScriptedLauncher, secrets: list[str] | None = None) -> CheckContext:
    return CheckContext(tmp_path / "restore", tmp_path / "work", launcher,
                        env={"REGION": "eu", "MODE": "drill"}, secrets=secrets or [])


def _spec(**extra: object) -> CommandCheck:
    return CommandCheck.model_validate({"type": "command", "run": ["./verify.sh", "--all"], **extra})


def test_exit_zero_passes_and_runs_in_the_restore_root(tmp_path: Path) -> None:
    launcher = ScriptedLauncher([completed(0, "checked 12 invoices\n")])
    result = check_command(_spec(env={"MODE": "check"}, timeout="2m"), _ctx(tmp_path, launcher))
    assert (result.status, result.detail, result.name) == (Status.PASSED, "exit 0", "command ./verify.sh --all")
    assert result.data == {"argv": ["./verify.sh", "--all"], "exit_code": 0,
                           "output_tail": ["checked 12 invoices"]}
    call = launcher.calls[0]
    assert call.argv == ["./verify.sh", "--all"] and call.cwd == tmp_path / "restore"
    assert call.timeout == 120.0
    assert call.env == {"REGION": "eu", "MODE": "check", "DRILLBOOK_RESTORE_ROOT": str(tmp_path / "restore")}


def test_non_zero_exit_fails_with_the_last_output_line(tmp_path: Path) -> None:
    launcher = ScriptedLauncher([completed(3, "rows: 10\n", "table invoices is empty\n")])
    result = check_command(_spec(name="invoices"), _ctx(tmp_path, launcher))
    assert result.status == Status.FAILED and result.name == "invoices"
    assert result.detail == "exit 3: table invoices is empty"
    tail = result.data["output_tail"]
    assert (tail[0], tail[-1], result.data["exit_code"]) == ("rows: 10", "table invoices is empty", 3)


def test_silent_failure_says_there_was_no_output(tmp_path: Path) -> None:
    result = check_command(_spec(), _ctx(tmp_path, ScriptedLauncher([completed(1)])))
    assert result.detail == "exit 1: no output"


def test_output_is_scrubbed_of_secrets(tmp_path: Path) -> None:
    launcher = ScriptedLauncher([completed(2, "", "login failed for s3cr3t-token\n")])
    result = check_command(_spec(), _ctx(tmp_path, launcher, secrets=["s3cr3t-token"]))
    assert "s3cr3t-token" not in result.detail and "s3cr3t-token" not in str(result.data)


def test_timeout_fails_and_says_the_group_was_killed(tmp_path: Path) -> None:
    launcher = ScriptedLauncher([completed(None, "half way\n", timed_out=True)])
    result = check_command(_spec(timeout="30s"), _ctx(tmp_path, launcher))
    assert result.status == Status.FAILED
    assert result.detail.startswith("timed out after ") and result.detail.endswith("; process group killed")
    assert result.data["exit_code"] is None


def test_missing_program_fails_by_name(tmp_path: Path) -> None:
    launcher = ScriptedLauncher([FileNotFoundError(2, "No such file or directory", "./verify.sh")])
    result = check_command(_spec(), _ctx(tmp_path, launcher))
    assert (result.status, result.detail) == (Status.FAILED, "./verify.sh: program not found")
