"""The command group: every command in the table, exit codes mapped once, `python -m drillbook`."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from drillbook import __version__
from drillbook.cli import app
from drillbook.cli.app import cli
from drillbook.cli.commands import COMMANDS as COMMANDS_TABLE
from drillbook.cli.console import fail
from drillbook.cli.serve import server_state
from drillbook.errors import BadInput, CannotRun, SpecProblem
from drillbook.serve.jobstore import SERVE_LOCK
from drillbook.util.locks import file_lock, say_holder
from tests.support import write_drill

COMMANDS = ["cleanup", "completion", "coverage", "dispatch", "evidence", "init", "list", "paths", "plan", "report",
            "run", "runbook", "schedule", "schema", "serve", "validate", "worker", "workers"]


def invoke(tmp_path: Path, *args: str):
    return CliRunner().invoke(cli, ["--drills", str(tmp_path / "drills"), "--reports", str(tmp_path / "reports"),
                                    "--state", str(tmp_path / "state"), "--runbooks", str(tmp_path / "runbooks"),
                                    *args])


def test_every_command_is_in_the_group() -> None:
    ctx = click.Context(cli)
    assert cli.list_commands(ctx) == COMMANDS
    for name in COMMANDS:
        command = cli.get_command(ctx, name)
        assert command is not None and command.name == name
        assert command.get_short_help_str(limit=1000) == COMMANDS_TABLE[name][1]  # the table's help is the command's


def test_help_loads_no_commands_module() -> None:
    """`drillbook --help` imports click and drillbook's own light modules only, in a fresh interpreter."""
    probe = ("import sys; sys.argv = ['drillbook', '--help']\n"
             "from drillbook.cli import app\n"
             "try:\n    app.cli(prog_name='drillbook')\nexcept SystemExit:\n    pass\n"
             "heavy = ('pydantic', 'boto3', 'botocore', 'cryptography', 'jinja2', 'apscheduler', 'rich', "
             "'yaml', 'urllib3', 'markdown_it', 'drillbook.cli.drills', 'drillbook.drill')\n"
             "print(sorted(m for m in sys.modules if m.split('.')[0] in heavy or m in heavy))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"
    assert "Commands:" in done.stdout and "plan" in done.stdout


def test_validate_counts_the_drills(tmp_path: Path) -> None:
    write_drill(tmp_path / "drills", "clinic", "/nowhere/repo")
    result = invoke(tmp_path, "validate")
    assert result.exit_code == 0 and f"1 drill(s) valid in {tmp_path / 'drills'}" in result.output


def test_bad_input_exits_2_with_every_problem(tmp_path: Path) -> None:
    write_drill(tmp_path / "drills", "clinic", "/nowhere/repo", rto="ten minutes")
    result = invoke(tmp_path, "validate", "clinic")
    assert result.exit_code == 2
    assert '"ten minutes" is not a duration' in result.output and "1 problem(s); nothing was run." in result.output


def test_run_needs_names_or_all(tmp_path: Path) -> None:
    assert invoke(tmp_path, "run").exit_code == 2


def test_fail_prints_the_error_and_exits_with_its_code(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as ended:
        fail(CannotRun("restic is not installed"))
    assert ended.value.code == 3 and "drillbook: restic is not installed" in capsys.readouterr().err
    with pytest.raises(SystemExit) as ended:
        fail(BadInput("2 problems", [SpecProblem(Path("a.yaml"), 3, "rto", "bad"),
                                     SpecProblem(Path("b.yaml"), None, "", "worse")]))
    err = capsys.readouterr().err
    assert ended.value.code == 2
    assert err.splitlines() == ["a.yaml:3: rto: bad", "b.yaml: worse", "2 problem(s); nothing was run."]


def test_python_dash_m_drillbook_runs_the_cli() -> None:
    done = subprocess.run([sys.executable, "-m", "drillbook", "--version"], capture_output=True, text=True,
                          env={**os.environ}, timeout=60)
    assert done.returncode == 0 and done.stdout.strip() == f"drillbook, version {__version__}"


def test_schedule_names_the_server_holding_the_state_folder(tmp_path: Path) -> None:
    path = tmp_path / SERVE_LOCK
    assert server_state(tmp_path).startswith("not running")
    with file_lock(path, timeout=0, mode=0o644) as fd:
        say_holder(fd, "4242")
        assert server_state(tmp_path) == "running (pid 4242)"
    assert server_state(tmp_path) == "not running"


def test_main_claims_sigint_before_any_command_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    """Started with SIGINT ignored (a background job), drillbook still stops on it from the start."""
    def command(**_: object) -> None:
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(5)

    monkeypatch.setattr(app, "cli", command)
    before = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        with pytest.raises(KeyboardInterrupt):
            app.main()
    finally:
        signal.signal(signal.SIGINT, before)
