"""Every check type the spec accepts has a runner, and run_check never lets a check raise."""

from __future__ import annotations

import dataclasses
import json
import typing
from pathlib import Path
from types import SimpleNamespace

from drillbook.checks.base import CheckContext
from drillbook.checks.kinds import KINDS, run_check
from drillbook.sandbox.isolation import IsolationError
from drillbook.spec.models import CHECK_MODELS, Check, CommandCheck, FilesCheck
from drillbook.status import Status
from tests.unit.checks.fakes import ScriptedLauncher


def _spec_types() -> set[str]:
    union = typing.get_args(Check)[0]
    return {typing.get_args(model.model_fields["type"].annotation)[0] for model in typing.get_args(union)}


def test_every_spec_check_type_has_a_runner() -> None:
    assert _spec_types() == set(CHECK_MODELS) == set(KINDS)


def test_run_check_dispatches_on_type_and_times_the_check(tmp_path: Path) -> None:
    (tmp_path / "restore" / "docs").mkdir(parents=True)
    (tmp_path / "restore" / "docs" / "a.txt").write_text("a")
    ctx = CheckContext(tmp_path / "restore", tmp_path / "work", ScriptedLauncher())
    result = run_check(FilesCheck(type="files", path="docs", min_count=1), ctx)
    assert (result.type, result.status, result.name) == ("files", Status.PASSED, "files docs")
    assert result.duration_seconds >= 0


def test_an_unknown_type_fails(tmp_path: Path) -> None:
    ctx = CheckContext(tmp_path, tmp_path, ScriptedLauncher())
    result = run_check(SimpleNamespace(type="ftp", name=None), ctx)
    assert (result.status, result.detail, result.name) == (Status.FAILED, "no runner for ftp", "ftp")


def test_a_check_that_raises_fails_naming_the_error(tmp_path: Path) -> None:
    gone = IsolationError("the sandbox's namespaces are gone (bubblewrap exited)")
    ctx = CheckContext(tmp_path, tmp_path, ScriptedLauncher([gone]))
    result = run_check(CommandCheck(type="command", run=["true"], name="smoke"), ctx)
    assert (result.type, result.name, result.status) == ("command", "smoke", Status.FAILED)
    assert result.detail == ("check could not run: IsolationError: the sandbox's namespaces are gone "
                             "(bubblewrap exited)")


def test_a_check_that_crashes_records_only_drillbooks_words(tmp_path: Path, monkeypatch) -> None:
    """An exception's text may quote restored bytes (int() of a file that is really a key)."""
    secret = "-----BEGIN PRIVATE KEY----- MC4CAQAwBQYDK2VwBCIEIDrillbookSigningKey"

    def crashes(spec: object, ctx: CheckContext) -> None:
        int(secret)

    monkeypatch.setitem(KINDS, "command", crashes)
    ctx = CheckContext(tmp_path, tmp_path, ScriptedLauncher())
    result = run_check(CommandCheck(type="command", run=["true"], name="smoke"), ctx)
    assert result.status == Status.FAILED
    assert result.detail == ("check could not run: ValueError in crashes (test_kinds.py:"
                             f"{crashes.__code__.co_firstlineno + 1}); its message is not recorded, "
                             "as it may quote restored data")
    recorded = json.dumps(dataclasses.asdict(result))
    assert secret not in recorded and "PRIVATE KEY" not in recorded
