"""Runbook runs are sealed like drills; a resumed run amends its entry and the chain still verifies."""

from __future__ import annotations

import json
import textwrap

import pytest
from junitparser import Failure, JUnitXml

pytestmark = pytest.mark.integration

RUNBOOK = """\
---
title: Fail over the clinic
owner: clinic-oncall@example.org
---
# Fail over the clinic

## Check the standby is ready
```sh
test -e standby-ready || { echo "standby not ready" >&2; exit 3; }
```

## Announce
Tell the clinic staff.
"""


def test_runbook_run_sealed_resumed_amended_and_verified(workspace):
    folder = workspace.root / "runbooks"
    folder.mkdir()
    (folder / "failover.md").write_text(textwrap.dedent(RUNBOOK))
    first = workspace.cli("runbook", "run", "failover", "--yes", "--operator", "alice")
    assert first.returncode == 1
    run_dir = next((workspace.reports / "runbooks" / "failover").iterdir())
    suite = next(iter(JUnitXml.fromfile(str(run_dir / "junit.xml"))))
    failed = [c for c in suite if c.result and isinstance(c.result[0], Failure)]
    assert any("standby not ready" in (c.result[0].message or "") or "exit 3" in (c.result[0].message or "")
               for c in failed)
    assert workspace.cli("evidence", "verify").returncode == 0

    attempt_one = {p.name: p.read_bytes() for p in run_dir.iterdir() if p.is_file()}
    (folder / "standby-ready").touch()
    assert workspace.cli("runbook", "resume", run_dir.name, "--yes").returncode == 0
    kept = run_dir / "attempts" / "1"
    assert {p.name: p.read_bytes() for p in kept.iterdir()} == attempt_one  # attempt 1, as it was sealed
    assert json.loads((kept / "run.json").read_text())["status"] == "failed"
    assert json.loads((run_dir / "run.json").read_text())["status"] == "passed"
    entries = [json.loads(line) for line in (workspace.reports / "evidence" / "ledger.jsonl").read_text().splitlines()]
    mine = [e for e in entries if e["run_id"] == run_dir.name]
    assert [e["status"] for e in mine] == ["failed", "passed"] and mine[1]["amends"] == mine[0]["seq"]
    assert all(e["kind"] == "runbook" and e["path"] == f"runbooks/failover/{run_dir.name}" for e in mine)
    verified = workspace.cli("evidence", "verify")
    assert verified.returncode == 0, verified.stdout
    assert "passed 1" in verified.stdout
    assert ("resealed: 1 entry sealed an earlier attempt of a resumed run; its files are kept in the "
            "run's attempts/ folder (1 of 1)") in verified.stdout
    assert "2 in the ledger, for 1 run folder(s)" in verified.stdout

    report = workspace.cli("report")
    assert report.returncode == 0 and "attention: runbook failover" not in report.stdout
