"""The runbooks shipped in runbooks/ parse cleanly and name only drills shipped in drills/."""

from __future__ import annotations

from pathlib import Path

from drillbook.runbook.loading import known_drills
from drillbook.runbook.parser import check_drills, load_runbooks
from drillbook.spec.loader import load_drills

ROOT = Path(__file__).resolve().parents[3]


def test_shipped_runbooks_are_valid_and_runnable_with_the_shipped_drills():
    runbooks = load_runbooks(ROOT / "runbooks")
    assert runbooks.problems == []
    assert len(runbooks.runbooks) >= 2
    drills = load_drills(ROOT / "drills")
    assert check_drills(runbooks.runbooks.values(), known_drills(drills)) == []
    for runbook in runbooks.runbooks.values():
        kinds = runbook.counts()
        assert kinds["drill"] >= 1 and kinds["shell"] >= 1 and kinds["manual"] >= 1, runbook.name
        assert runbook.rto is not None and runbook.meta.owner
