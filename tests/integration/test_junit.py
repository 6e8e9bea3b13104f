"""junit.xml beside every run and `run --junit` parse with a standard JUnit parser."""

from __future__ import annotations

from junitparser import Failure, JUnitXml

from tests.support import STANDARD_CHECKS, write_drill

BAD_QUERY = """\
verify:
  - type: sqlite
    name: enough appointments
    path: srv/clinic/db/appointments.sqlite
    queries:
      - {sql: "select count(*) from appointments", expect: ">= 999999"}
"""


def test_junit_per_run_and_combined_carry_the_failure(workspace, repo, tmp_path):
    write_drill(workspace.drills, "clinic", repo.path, body=STANDARD_CHECKS)
    write_drill(workspace.drills, "short", repo.path, body=BAD_QUERY)
    combined = tmp_path / "ci" / "drills.xml"
    result = workspace.cli("run", "clinic", "short", "--junit", str(combined))
    assert result.returncode == 1

    run = workspace.last_run("short")
    per_run = JUnitXml.fromfile(str(workspace.reports / "short" / run["run_id"] / "junit.xml"))
    suites = list(per_run)
    assert len(suites) == 1 and suites[0].failures >= 2
    failures = {case.name: case.result[0].message for case in suites[0]
                if case.result and isinstance(case.result[0], Failure)}
    assert ">= 999999" in failures["enough appointments"]
    assert failures["outcome"] == run["reason"]
    assert "checks" in failures

    xml = JUnitXml.fromfile(str(combined))
    names = [suite.name for suite in xml]
    assert names == ["drill:clinic", "drill:short"]
    clinic = next(iter(xml))
    assert clinic.failures == 0 and clinic.tests > 5
    assert {case.classname.split(".")[1] for case in clinic} == {"phase", "check", "objective", "outcome"}
