"""The period compliance report through the CLI, and its page in a real browser engine."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.support import STANDARD_CHECKS, write_drill

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def quarter() -> str:
    now = datetime.now(UTC)
    return f"{now.year}Q{(now.month - 1) // 3 + 1}"


def test_period_report_lists_a_declared_drill_that_never_ran(workspace, repo):
    write_drill(workspace.drills, "clinic", repo.path, body=STANDARD_CHECKS + "schedule: monthly\n")
    write_drill(workspace.drills, "archive", repo.path, body="schedule: quarterly\n")
    assert workspace.cli("run", "clinic").returncode == 0
    period = quarter()
    result = workspace.cli("report", "--period", period)
    assert result.returncode == 0, result.stderr
    assert "attention: drill archive: no run in the period (1 due)" in result.stdout
    assert "ledger: verified" in result.stdout
    data = json.loads((workspace.reports / f"compliance-{period}.json").read_text())
    items = {i["name"]: i for i in data["items"]}
    assert items["archive"]["runs_made"] == 0 and items["clinic"]["passed"] == 1
    assert data["ledger"]["ok"] and data["ledger"]["head"] in result.stdout
    html = (workspace.reports / f"compliance-{period}.html").read_text()
    assert "archive" in html and "not run" in html and data["ledger"]["head"] in html
    href = items["clinic"]["runs"][0]["href"]
    assert (workspace.reports / href).exists() and f'href="{href}"' in html
    md = (workspace.reports / f"compliance-{period}.md").read_text()
    assert "| archive | drill |" in md and "NOT RUN" in md
    assert f'href="compliance-{period}.html"' in (workspace.reports / "index.html").read_text()

    strict = workspace.cli("report", "--period", period, "--strict")
    assert strict.returncode == 1 and "archive" in strict.stderr
    assert workspace.cli("report", "--period", "2026Q7").returncode == 2


def test_a_forged_run_is_not_evidence_and_strict_fails_on_the_ledger(workspace, repo):
    """A failed run edited into a pass after sealing: the report says first that the ledger did
    not verify, shows the run marked, counts it nowhere, and --strict exits 1."""
    write_drill(workspace.drills, "clinic", repo.path, body="verify:\n  - {type: files, path: nowhere, min_count: 1}\n")
    assert workspace.cli("run", "clinic").returncode == 1
    record_path = next(workspace.reports.glob("clinic/*/run.json"))
    record = json.loads(record_path.read_text())
    record.update(status="passed", reason=None)
    record_path.write_text(json.dumps(record))
    period = quarter()
    plain = workspace.cli("report", "--period", period)
    assert plain.returncode == 0, plain.stderr
    first = plain.stdout.splitlines()[0]
    assert first.startswith("ledger: FAILED"), plain.stdout
    assert "attention: evidence ledger: the evidence ledger did not verify" in plain.stdout
    data = json.loads((workspace.reports / f"compliance-{period}.json").read_text())
    clinic = next(i for i in data["items"] if i["name"] == "clinic")
    assert (clinic["passed"], clinic["runs_made"], clinic["unvouched"]) == (0, 0, 1)
    assert clinic["runs"][0]["status"] == "passed" and clinic["runs"][0]["vouched"] is False
    assert data["totals"]["passed"] == 0
    html = (workspace.reports / f"compliance-{period}.html").read_text()
    assert "not vouched for" in html and html.index("did not verify") < html.index("Needs attention")
    strict = workspace.cli("report", "--period", period, "--strict")
    assert strict.returncode == 1 and "ledger did not verify" in strict.stderr


@pytest.mark.skipif(not Path(CHROMIUM).exists() and not os.environ.get("CI"),
                    reason="chromium is not installed (in CI a missing browser fails the test)")
def test_compliance_page_renders_in_chromium(workspace, repo, tmp_path):
    write_drill(workspace.drills, "clinic", repo.path, body=STANDARD_CHECKS)
    write_drill(workspace.drills, "archive", repo.path, body="schedule: quarterly\n")
    assert workspace.cli("run", "clinic").returncode == 0
    assert workspace.cli("report").returncode == 0  # default: the current quarter
    page = workspace.reports / f"compliance-{quarter()}.html"
    pdf = tmp_path / "compliance.pdf"
    subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    f"--user-data-dir={tmp_path / 'profile'}", "--no-pdf-header-footer",
                    f"--print-to-pdf={pdf}", page.as_uri()],
                   capture_output=True, timeout=120, check=False)
    assert pdf.exists() and pdf.read_bytes().startswith(b"%PDF")
    assert pdf.stat().st_size > 20_000
