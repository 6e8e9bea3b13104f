"""What a command loads decides how soon it answers: each of these runs in a fresh interpreter.

``validate``, ``list`` and ``schedule`` of a thousand drills must answer within a second, and a
``drillbook run`` should start restic within a fraction of one; each module below costs tens of
milliseconds to import on a busy host and none is needed for that work.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import STANDARD_CHECKS, write_drill

#: Not needed to load drills, list them or start restic: webhooks (urllib3), reports (jinja2,
#: markdown_it), the ledger (cryptography), metrics (prometheus_client), AWS (boto3).
HEAVY = ("boto3", "urllib3", "jinja2", "markdown_it", "cryptography", "prometheus_client")

#: Runs drillbook's CLI with argv; at the first process it would start (the first restic call of
#: a run) or when the command ends, prints the heavy modules loaded so far.
PROBE = """
import json, subprocess, sys
heavy = {heavy!r}
def loaded():
    # a module bound by util.lazy is in sys.modules before its first use: only its class tells
    return sorted(m for m, module in list(sys.modules.items())
                  if any(m == h or m.startswith(h + '.') for h in heavy)
                  and type(module).__name__ != '_LazyModule')
class Started(BaseException):
    pass
real_popen = subprocess.Popen
def first_process(args, *rest, **kwargs):
    if 'restic' in str(args[0]) or 'true' in str(args[0]):
        print('PROBE ' + json.dumps(loaded()) + ' at ' + json.dumps(list(args)), flush=True)
        raise Started
    return real_popen(args, *rest, **kwargs)
subprocess.Popen = first_process
sys.argv = ['drillbook', *{argv!r}]
from drillbook.cli import app
try:
    app.main()
except (SystemExit, Started):
    pass
print('PROBE ' + json.dumps(loaded()), flush=True)
"""


def loaded_by(tmp_path: Path, *argv: str, watched: tuple[str, ...] = HEAVY) -> tuple[list[str], str]:
    """The heavy modules loaded, and the argv of the first process started (else "")."""
    env = {**os.environ, "DRILLBOOK_DRILLS": str(tmp_path / "drills"), "DRILLBOOK_REPORTS": str(tmp_path / "reports"),
           "DRILLBOOK_STATE": str(tmp_path / "state"), "DRILLBOOK_RUNBOOKS": str(tmp_path / "runbooks"),
           "DRILLBOOK_SANDBOX_ROOT": str(tmp_path / "sandboxes"), "DRILLBOOK_RESTIC": "/bin/true",
           "TEST_RESTIC_PASSWORD": "x"}
    done = subprocess.run([sys.executable, "-c", PROBE.format(heavy=watched, argv=list(argv))], env=env,
                          capture_output=True, text=True, timeout=120)
    lines = [line for line in done.stdout.splitlines() if line.startswith("PROBE ")]
    assert lines, done.stdout + done.stderr
    heavy, _, started = lines[0][len("PROBE "):].partition(" at ")
    return json.loads(heavy), started


@pytest.fixture
def drills(tmp_path: Path) -> Path:
    write_drill(tmp_path / "drills", "clinic", "/nowhere/repo", body='schedule: "0 2 * * *"\n' + STANDARD_CHECKS)
    return tmp_path


@pytest.mark.parametrize("command", ["validate", "list", "schedule"])
def test_listing_commands_load_nothing_heavy(drills: Path, command: str) -> None:
    assert loaded_by(drills, command) == ([], "")


def test_a_run_starts_restic_before_loading_reports_webhooks_or_metrics(drills: Path) -> None:
    heavy, started = loaded_by(drills, "run", "clinic", "--plain")
    assert json.loads(started)[:2] == ["/bin/true", "version"]  # the first restic call
    # cryptography is the one left: a run first reads the ledger (evidence/verify.py, which
    # imports it and must stay self-contained) to seal runs whose drillbook died
    assert [m for m in heavy if not m.startswith("cryptography")] == []


#: What the phases after the snapshot lookup need (the sandbox, the restore, the content check,
#: the checks and their services, the Object Lock audit, the verdict): none of it may load before
#: the first restic call, or the drill's clock waits for modules the plan does not use. Nor the
#: AWS backend for a local repository, nor the ledger's cryptography while the reports folder
#: holds no finished run to look up in it. (APScheduler is not listed: the drill's cron schedule
#: is validated with it when the drill loads.)
LATER_PHASES = ("drillbook.sandbox.holder", "drillbook.sandbox.launcher", "drillbook.sandbox.safety",
                "drillbook.sandbox.inside", "drillbook.sandbox.slots", "drillbook.checks.kinds",
                "drillbook.checks.base", "drillbook.checks.services.stack", "drillbook.drill.content",
                "drillbook.drill.controls", "drillbook.drill.restoring", "drillbook.drill.storage",
                "drillbook.drill.pathhints", "drillbook.drill.verdict", "drillbook.backends.aws",
                "drillbook.backends.immutability", "botocore", "cryptography")


#: What only a run needs: `validate`, `list` and `schedule` read drills and never start one.
RUN_ONLY = ("drillbook.drill.engine", "drillbook.drill.overrun", "drillbook.backends.restic",
            "drillbook.sandbox.reaper", "drillbook.sandbox.holder", "drillbook.cli.progress",
            "drillbook.checks.kinds", "drillbook.sites.status", "drillbook.sites.central")


@pytest.mark.parametrize("command", ["validate", "list", "schedule"])
def test_listing_commands_load_nothing_a_run_needs(drills: Path, command: str) -> None:
    assert loaded_by(drills, command, watched=RUN_ONLY) == ([], "")


def test_a_run_starts_restic_before_loading_what_later_phases_need(drills: Path) -> None:
    loaded, started = loaded_by(drills, "run", "clinic", "--plain", watched=LATER_PHASES)
    assert json.loads(started)[:2] == ["/bin/true", "version"]
    assert loaded == []



@pytest.mark.parametrize("argv", [("validate",), ("list",), ("run", "clinic", "--plain")])
def test_a_drill_without_schedule_loads_no_scheduler(tmp_path: Path, argv: tuple[str, ...]) -> None:
    """APScheduler (its package reads its own version from the installed metadata) is for
    schedules: a project of on-demand drills never pays it."""
    write_drill(tmp_path / "drills", "clinic", "/nowhere/repo", body=STANDARD_CHECKS)
    assert loaded_by(tmp_path, *argv, watched=("apscheduler",))[0] == []


def test_help_loads_no_settings_module(tmp_path: Path) -> None:
    """`drillbook --help` is measured against `python -c pass`: settings (tempfile, shutil, the
    account lookups of util.trust) are for commands that run."""
    assert loaded_by(tmp_path, "--help", watched=("drillbook.settings", "tempfile", "drillbook.util.trust")) == ([], "")
