"""Runbooks through the real CLI, with a real restic repository behind their drill steps."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from tests.support import STANDARD_CHECKS, Workspace, write_drill

pytestmark = pytest.mark.integration

FOUR_STEPS = """\
---
title: Restore the clinic
owner: clinic-oncall@example.org
objectives: {rto: 10m}
env: {CLINIC_HOST: clinic-1, CLINIC_API_TOKEN: s3cr3t-token-value}
---
# Restore the clinic
Use this when the clinic's data is lost.

## Declare the incident
Page the incident commander and get the go-ahead.

## Check the tools
```sh
restic version
echo "host $CLINIC_HOST token $CLINIC_API_TOKEN"
```

## Restore and verify the latest backup
```drill
clinic
```

## Announce recovery
Tell the clinic staff.
"""


def write_runbook(ws: Workspace, name: str, text: str) -> Path:
    folder = ws.root / "runbooks"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.md"
    path.write_text(textwrap.dedent(text))
    return path


def runbook_runs(ws: Workspace, name: str) -> list[dict[str, Any]]:
    base = ws.reports / "runbooks" / name
    return [json.loads(p.read_text()) for p in sorted(base.glob("*/run.json"))]


def only_run(ws: Workspace, name: str) -> dict[str, Any]:
    runs = runbook_runs(ws, name)
    assert len(runs) == 1, runs
    return runs[0]


def statuses(run: dict[str, Any]) -> list[str]:
    return [s["status"] for s in run["steps"]]


def test_a_runbook_whose_steps_all_pass_records_steps_operator_and_drill_run(workspace, repo):
    write_drill(workspace.drills, "clinic", repo.path, body=STANDARD_CHECKS)
    write_runbook(workspace, "restore-clinic", FOUR_STEPS)
    assert workspace.cli("validate").returncode == 0

    result = workspace.cli("runbook", "run", "restore-clinic", "--yes", "--operator", "alice")

    assert result.returncode == 0, result.stderr
    run = only_run(workspace, "restore-clinic")
    assert run["kind"] == "runbook" and run["status"] == "passed" and run["reason"] is None
    assert run["operator"] == "alice" and run["attempts"][0]["operator"] == "alice"
    assert run["title"] == "Restore the clinic" and run["owner"] == "clinic-oncall@example.org"
    assert statuses(run) == ["confirmed", "passed", "passed", "confirmed"]
    assert [s["kind"] for s in run["steps"]] == ["manual", "shell", "drill", "manual"]
    assert all(s["duration_seconds"] is not None and s["started_at"] for s in run["steps"])
    manual = run["steps"][0]
    assert manual["confirmed_by"] == "--yes" and manual["confirmed_via"] == "--yes"
    assert manual["operator"] == "alice"
    shell = run["steps"][1]
    assert "host clinic-1 token ***" in shell["output_tail"] and shell["exit_code"] == 0
    assert "s3cr3t-token-value" not in json.dumps(run)
    drill_run = run["steps"][2]["drill_runs"][0]
    assert drill_run["status"] == "passed"
    assert drill_run["run_id"] == workspace.last_run("clinic")["run_id"]
    assert workspace.last_run("clinic")["trigger"].startswith("runbook restore-clinic")
    rto = run["objectives"]["rto"]
    assert rto["target"] == "10m" and rto["met"] is True and 0 < rto["measured_seconds"] < 600

    folder = workspace.reports / "runbooks" / "restore-clinic" / run["run_id"]
    assert (folder / drill_run["report"]).resolve().is_file()  # relative link to the drill's report
    html = (folder / "report.html").read_text()
    assert f'href="{drill_run["report"]}"' in html and "<svg" in html and "alice" in html
    assert "Announce recovery" in (folder / "report.md").read_text()
    index = (workspace.reports / "index.html").read_text()
    assert "Runbook: restore-clinic" in index and "Drill: clinic" in index

    listing = workspace.cli("runbook", "list")
    assert listing.returncode == 0 and "passed" in listing.stdout and "restore-clinic" in listing.stdout
    show = workspace.cli("runbook", "show", "restore-clinic")
    assert "3. Restore and verify the latest backup  [drill: clinic]" in show.stdout


SHELL_AFTER_MANUALS = """\
---
title: Two confirmations then a change
---
## Declare the incident
Page the incident commander.

## Freeze writes
Put the portal in maintenance mode.

## Change something
```sh
touch changed.flag
```
"""


def test_declining_a_manual_step_on_stdin_fails_it_and_runs_nothing_after(workspace):
    runbooks = workspace.root / "runbooks"
    write_runbook(workspace, "freeze", SHELL_AFTER_MANUALS)

    result = workspace.cli("runbook", "run", "freeze", input="y\nn\n", DRILLBOOK_OPERATOR="carol")

    assert result.returncode == 1
    run = only_run(workspace, "freeze")
    assert run["status"] == "failed" and statuses(run) == ["confirmed", "declined", "not_run"]
    assert run["steps"][0]["confirmed_by"] == "carol" and run["steps"][0]["confirmed_via"] == "stdin"
    assert 'step 2 "Freeze writes" was declined' in run["reason"]
    assert not (runbooks / "changed.flag").exists()


def test_end_of_input_is_not_a_confirmation_and_never_hangs(workspace):
    write_runbook(workspace, "freeze", SHELL_AFTER_MANUALS)
    started = time.monotonic()
    result = workspace.cli("runbook", "run", "freeze", input="", timeout=30)
    assert result.returncode == 1 and time.monotonic() - started < 20
    run = only_run(workspace, "freeze")
    assert statuses(run) == ["declined", "not_run", "not_run"]
    assert "end of input" in run["steps"][0]["reason"]


FAILS_UNTIL_FIXED = """\
---
title: Needs a fix first
objectives: {rto: 30m}
---
## Declare the incident
Go.

## Check the cause is fixed
```sh
echo "checking"
test -f cause-fixed || { echo "the cause is not fixed yet" >&2; exit 3; }
```

## Restore and verify
```drill
clinic
```

## Announce
Tell people.
"""


def test_a_failing_shell_step_stops_the_run_and_resume_finishes_it(workspace, repo):
    write_drill(workspace.drills, "clinic", repo.path, body=STANDARD_CHECKS)
    write_runbook(workspace, "fix-first", FAILS_UNTIL_FIXED)

    first = workspace.cli("runbook", "run", "fix-first", "--yes", "--operator", "alice")

    assert first.returncode == 1
    run = only_run(workspace, "fix-first")
    assert run["status"] == "failed" and statuses(run) == ["confirmed", "failed", "not_run", "not_run"]
    failed = run["steps"][1]
    assert failed["exit_code"] == 3 and "exit 3: the cause is not fixed yet" in failed["reason"]
    assert 'step 2 "Check the cause is fixed" failed' in run["reason"]
    assert workspace.runs("clinic") == []  # the drill after the failed step never ran

    (workspace.root / "runbooks" / "cause-fixed").touch()
    second = workspace.cli("runbook", "resume", run["run_id"], "--yes", "--operator", "bob")

    assert second.returncode == 0, second.stderr
    resumed = only_run(workspace, "fix-first")  # the same run, not a new one
    assert resumed["run_id"] == run["run_id"] and resumed["status"] == "passed"
    assert statuses(resumed) == ["confirmed", "passed", "passed", "confirmed"]
    assert [(a["number"], a["operator"], a["from_step"]) for a in resumed["attempts"]] == [
        (1, "alice", 1), (2, "bob", 2)]
    step1, step2 = resumed["steps"][0], resumed["steps"][1]
    assert step1 == run["steps"][0]  # already done: not re-run
    assert step2["attempt"] == 2 and step2["history"][0]["status"] == "failed"
    assert step2["history"][0]["attempt"] == 1
    assert resumed["objectives"]["rto"]["met"] is True

    again = workspace.cli("runbook", "resume", run["run_id"], "--yes")
    assert again.returncode == 2 and "already passed" in again.stderr


def test_a_runbook_slower_than_its_rto_fails_naming_the_rto(workspace):
    write_runbook(workspace, "slow", """\
        ---
        title: Too slow
        objectives: {rto: 1s}
        ---
        ## Take our time
        ```sh
        sleep 1.3
        ```
        """)
    result = workspace.cli("runbook", "run", "slow")
    assert result.returncode == 1
    run = only_run(workspace, "slow")
    assert statuses(run) == ["passed"] and run["status"] == "failed"
    assert "RTO missed" in run["reason"] and "1s" in run["reason"]
    rto = run["objectives"]["rto"]
    assert rto["met"] is False and rto["measured_seconds"] >= 1.3


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def test_a_hung_shell_step_is_killed_at_its_timeout_with_its_children(workspace):
    folder = workspace.root / "runbooks"
    write_runbook(workspace, "hangs", """\
        ## Hang
        <!-- timeout: 1s -->
        ```sh
        sleep 300 &
        echo $! > child.pid
        echo "waiting forever"
        wait
        ```

        ## Never reached
        ```sh
        touch reached.flag
        ```
        """)
    started = time.monotonic()
    result = workspace.cli("runbook", "run", "hangs", timeout=60)
    took = time.monotonic() - started

    assert result.returncode == 1 and took < 15
    run = only_run(workspace, "hangs")
    assert statuses(run) == ["failed", "not_run"]
    step = run["steps"][0]
    assert "timed out after 1s" in step["reason"] and step["output_tail"] == ["waiting forever"]
    assert 1 <= step["duration_seconds"] < 10
    assert not _alive(int((folder / "child.pid").read_text()))
    assert not (folder / "reached.flag").exists()


def test_a_runbook_naming_an_unknown_drill_is_a_validation_error_with_file_line(workspace):
    write_drill(workspace.drills, "clinic", workspace.root / "repo", body=STANDARD_CHECKS)
    path = write_runbook(workspace, "typo", """\
        ---
        title: Typo
        ---
        ## Restore
        ```drill
        clinic
        clinik
        ```
        """)
    write_runbook(workspace, "broken", "---\ntitle: x\ncolour: red\n---\nNo steps at all.\n")

    result = workspace.cli("validate")

    assert result.returncode == 2
    assert f'{path}:7: step 1 "Restore" names drill "clinik"' in result.stderr
    assert "known drills: clinic" in result.stderr
    broken = workspace.root / "runbooks" / "broken.md"
    assert f"{broken}:3:1: colour: unknown key" in result.stderr  # all problems at once
    assert f"{broken}:" in result.stderr and "no steps" in result.stderr

    run = workspace.cli("runbook", "run", "typo", "--yes")
    assert run.returncode == 2 and f"{path}:7:" in run.stderr
    assert not (workspace.reports / "runbooks").exists()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_stops_the_step_records_aborted_and_the_run_resumes(workspace, sig):
    folder = workspace.root / "runbooks"
    write_runbook(workspace, "waits", """\
        ## Confirm
        Ready?

        ## Wait for the go
        ```sh
        echo $$ > step.pid
        test -f go || sleep 120
        ```
        """)
    proc = subprocess.Popen([sys.executable, "-m", "drillbook", "runbook", "run", "waits", "--yes"],
                            cwd=workspace.root, env=workspace.env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while not (folder / "step.pid").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert (folder / "step.pid").exists(), "the shell step never started"
        proc.send_signal(sig)
        _, stderr = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 128 + sig, stderr  # 143 for SIGTERM, 130 for SIGINT
    run = only_run(workspace, "waits")
    assert run["status"] == "aborted" and statuses(run) == ["confirmed", "aborted"]
    assert 'at step 2 "Wait for the go"' in run["reason"] and "resume" in run["reason"]
    assert not _alive(int((folder / "step.pid").read_text()))
    assert (workspace.reports / "runbooks" / "waits" / run["run_id"] / "report.html").exists()

    (folder / "go").touch()
    resumed = workspace.cli("runbook", "resume", run["run_id"], "--yes")
    assert resumed.returncode == 0, resumed.stderr
    assert statuses(only_run(workspace, "waits")) == ["confirmed", "passed"]


def test_from_step_skips_earlier_steps_and_unknown_names_are_bad_input(workspace):
    write_runbook(workspace, "freeze", SHELL_AFTER_MANUALS)
    result = workspace.cli("runbook", "run", "freeze", "--from", "change something")
    assert result.returncode == 0, result.stderr
    run = only_run(workspace, "freeze")
    assert statuses(run) == ["skipped", "skipped", "passed"]
    assert run["status"] == "partial" and "freeze: partial (RTO not measured: started --from step 3" in result.stdout
    assert workspace.cli("runbook", "run", "freeze", "--from", "9").returncode == 2
    missing = workspace.cli("runbook", "run", "nope")
    assert missing.returncode == 2 and "known runbooks: freeze" in missing.stderr
    assert workspace.cli("runbook", "resume", "no-such-run").returncode == 2


def test_operator_defaults_to_the_login_name(workspace):
    write_runbook(workspace, "one", "## Only\n```sh\ntrue\n```\n")
    env = {k: v for k, v in os.environ.items() if k == "DRILLBOOK_OPERATOR"}
    assert not env
    assert workspace.cli("runbook", "run", "one").returncode == 0
    import getpass

    assert only_run(workspace, "one")["operator"] == getpass.getuser()


def test_a_step_hidden_in_an_html_comment_is_not_shown_and_never_runs(workspace):
    """What GitHub does not show the reader is no step: ``list``/``show`` omit it, ``run`` skips it."""
    runbooks = workspace.root / "runbooks"
    write_runbook(workspace, "failover", """\
        # Fail over
        ## Declare the incident
        Page the incident commander.
        <!--
        ## Touch the flag
        ```sh
        touch hidden.flag
        ```
        -->

        ## Check
        ```sh
        true
        ```
        """)
    result = workspace.cli("runbook", "run", "failover", "--yes", "--operator", "alice")
    assert result.returncode == 0, result.stderr
    run = only_run(workspace, "failover")
    assert [s["title"] for s in run["steps"]] == ["Declare the incident", "Check"]
    assert not (runbooks / "hidden.flag").exists() and not (workspace.root / "hidden.flag").exists()
