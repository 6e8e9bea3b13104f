"""``drillbook plan`` as a library: what a run would restore and check, before anything is restored."""

from __future__ import annotations

from datetime import timedelta

import pytest

from drillbook.backends.restic import Fault, ResticError
from drillbook.drill.plan import plan_drill
from drillbook.drill.seams import Seams
from tests.unit.drill.fakes import Harness, password_env, snapshot

WRONG_PATH = """\
verify:
  - type: files
    path: clinic/docs
    required: [letter-0001.txt]
  - type: sqlite
    path: srv/clinic/docs/letter-0002.txt
"""


def plan(harness: Harness, body: str | None = None, **kwargs: str):
    target = harness.drill(body, **kwargs) if body is not None else harness.drill(**kwargs)
    return plan_drill(target, harness.settings, Seams(open_restic=harness.restic.open))


def test_a_good_drill_shows_its_snapshot_what_it_restores_and_every_check_path_found(harness: Harness) -> None:
    older = snapshot(age=timedelta(hours=30), sid="older111")
    harness.restic.snapshots_held = [older, snapshot(sid="newer222"), snapshot(host="clinic-2", sid="other333")]
    result = plan(harness)
    assert result.ok and result.problems == []
    assert result.chosen is not None and result.chosen.short_id == "newer222"
    assert result.chosen.within_rpo and not result.others[0].within_rpo  # 30h against an RPO of 1d
    assert [s.short_id for s in result.others] == ["older111"]
    assert "newest of 2 snapshots matching host=clinic-1 tags=nightly" in result.why
    assert result.restored == ["srv/clinic"]
    assert [(p.path, p.found) for c in result.checks for p in c.paths] == [
        ("srv/clinic/docs", True), ("srv/clinic/docs/letter-0001.txt", True)]
    text = "\n".join(result.text_lines())
    assert "newer222" in text and "within the RPO of 1d" in text
    assert str(harness.settings.sandbox_root / "<run id>" / "restore" / "srv/clinic") in text
    assert not harness.settings.reports_dir.exists() and not harness.settings.sandbox_root.exists()


def test_a_missing_password_names_its_source(harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in password_env():
        monkeypatch.delenv(name)
    result = plan(harness)
    assert not result.ok and result.chosen is None
    assert "env TEST_RESTIC_PASSWORD" in result.problems[0]


def test_a_wrong_password_names_the_source_it_came_from(harness: Harness) -> None:
    harness.restic.on_snapshots = _raise(ResticError(Fault.WRONG_PASSWORD, "wrong repository password"))
    result = plan(harness)
    assert not result.ok
    assert result.problems == ["wrong repository password; the password came from env TEST_RESTIC_PASSWORD"]


def test_no_matching_snapshot_explains_what_the_repository_has(harness: Harness) -> None:
    result = plan(harness, snapshot="{host: clinic-9}")
    assert not result.ok and result.chosen is None
    assert "no snapshot matches host=clinic-9" in result.problems[0] and "hosts: clinic-1" in result.problems[0]


def test_a_wrong_check_path_is_a_problem_with_the_likely_path_offered(harness: Harness) -> None:
    result = plan(harness, WRONG_PATH)
    assert not result.ok
    files = result.checks[0]
    assert [(p.path, p.found) for p in files.paths] == [("clinic/docs", False)]  # required: one cause, once
    assert files.paths[0].suggestions[0] == "srv/clinic/docs"
    assert result.checks[1].paths[0].found
    assert result.problems == ["check files clinic/docs: clinic/docs is not in the snapshot; "
                               "did you mean srv/clinic/docs?"]
    assert "did you mean srv/clinic/docs" in "\n".join(result.text_lines())
    assert result.to_dict()["checks"][0]["paths"][0]["suggestions"][0] == "srv/clinic/docs"


def test_a_listing_that_fails_is_a_problem(harness: Harness) -> None:
    harness.restic.ls_error = ResticError(Fault.CORRUPT_DATA, "repository data is corrupt")
    result = plan(harness)
    assert not result.ok and "repository data is corrupt" in result.problems[0]


def _raise(exc: Exception):
    def fail() -> None:
        raise exc
    return fail


def test_a_database_service_whose_dump_is_not_in_the_snapshot_is_a_problem(harness: Harness) -> None:
    body = """\
services:
  db: {type: postgres, dump: clinic/db/clinic.sql}
"""
    result = plan(harness, body)
    assert not result.ok
    assert result.problems[0].startswith("service db: clinic/db/clinic.sql is not in the snapshot")
